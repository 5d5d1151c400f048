"""[qemu]: the 'qemu' compute driver, which runs each instance as a QEMU process."""
from oslo_config import cfg

from nova_console.conf import serial_console

qemu_group = cfg.OptGroup(
    "qemu", title="QEMU driver options",
    help="Used when [DEFAULT] compute_driver = qemu. Each instance is one QEMU process "
         "booting a small guest that shows the instance's name on its screen and echoes its "
         "serial port; its files live in $state_path/instances/<uuid>/.")

qemu_opts = [
    cfg.StrOpt("binary", default="qemu-system-x86_64",
               help="QEMU system emulator to run, a path or a name looked up in PATH."),
    cfg.StrOpt("accel", default="tcg",
               help="QEMU accelerator ('-accel'): 'tcg' (emulation, works anywhere) or "
                    "'kvm' (needs /dev/kvm)."),
    cfg.IntOpt("memory_mb", default=32, min=1,
               help="Guest memory of each instance, in MiB."),
    cfg.StrOpt("vnc_port_range", default="5900:5999",
               regex=serial_console.PORT_RANGE_REGEX,
               help="Range of TCP ports, 'min:max' (both included, min at least 5900), from "
                    "which each instance gets its VNC server's port on [vnc] server_listen. "
                    "Keep it clear of other services' ports (nova-novncproxy's 6080, for "
                    "one)."),
    cfg.StrOpt("spice_port_range", default="5700:5799",
               regex=serial_console.PORT_RANGE_REGEX,
               help="Range of TCP ports, 'min:max' (both included), from which each "
                    "instance gets its SPICE server's port on [spice] server_listen, when "
                    "[spice] enabled is on. Keep it clear of the VNC range."),
    cfg.BoolOpt("sandbox", default=True,
                help="Run QEMU with its seccomp sandbox ('-sandbox on', denying privilege "
                     "changes, process spawning and obsolete system calls)."),
    cfg.StrOpt("extra_args", default="",
               help="More QEMU command-line arguments for every instance, split like a "
                    "shell would (for debugging; a bad argument makes every build fail)."),
    cfg.FloatOpt("start_timeout", default=10.0, min=0.1,
                 help="Seconds QEMU has to open an instance's VNC server before the build "
                      "fails."),
    cfg.FloatOpt("stop_timeout", default=5.0, min=0.0,
                 help="Seconds QEMU has to exit after SIGTERM when an instance is deleted, "
                      "before it is killed with SIGKILL."),
]


def register_opts(conf):
    conf.register_group(qemu_group)
    conf.register_opts(qemu_opts, group=qemu_group)


def list_opts():
    return {qemu_group: qemu_opts}
