"""[libvirt]: the 'libvirt' compute driver, which runs each instance as a libvirt domain."""
from oslo_config import cfg

libvirt_group = cfg.OptGroup(
    "libvirt", title="libvirt driver options",
    help="Used when [DEFAULT] compute_driver = libvirt. Each instance is a libvirt domain "
         "booting a small guest that shows the instance's name on its screen and echoes its "
         "serial port. libvirt picks the VNC ports (its own remote_display_port_min/max in "
         "/etc/libvirt/qemu.conf); serial ports come from [serial_console] port_range.")

libvirt_opts = [
    cfg.StrOpt("connection_uri", default="qemu:///system",
               help="libvirt connection URI of the local hypervisor. The instances' files "
                    "and console logs are on this host, so the URI must name a local "
                    "libvirt daemon (qemu:///system, or qemu:///session for an "
                    "unprivileged one)."),
    cfg.StrOpt("virt_type", default="qemu",
               choices=[("qemu", "emulation (TCG): works anywhere, slower"),
                        ("kvm", "hardware virtualization: needs /dev/kvm on the host")],
               help="Type of the instances' libvirt domains (<domain type=...>)."),
    cfg.StrOpt("instances_path", default="$state_path/libvirt",
               help="Directory of the instances' files (<uuid>/boot.img, the guest's "
                    "image, and <uuid>/console.log, its serial output). QEMU runs as "
                    "another user (Debian: libvirt-qemu) and must reach the image: every "
                    "directory above this one must be searchable by others (mode o+x), "
                    "e.g. /var/lib/nova_console/libvirt, not a directory in a 0700 home. "
                    "The driver creates the directory (mode 0711); libvirt hands each "
                    "image to QEMU's user while the instance runs."),
    cfg.IntOpt("memory_mb", default=32, min=1,
               help="Guest memory of each instance, in MiB."),
    cfg.FloatOpt("start_timeout", default=10.0, min=0.1,
                 help="Seconds an instance's VNC server has to answer after libvirt "
                      "started its domain, before the build fails."),
]


def register_opts(conf):
    conf.register_group(libvirt_group)
    conf.register_opts(libvirt_opts, group=libvirt_group)


def list_opts():
    return {libvirt_group: libvirt_opts}
