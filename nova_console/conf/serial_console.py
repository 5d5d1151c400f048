"""[serial_console]: serial consoles of instances and nova-serialproxy (Nova's names)."""
from oslo_config import cfg

DEFAULT_PORT_RANGE = "10000:20000"
PORT_RANGE_REGEX = r"^\d+:\d+$"

serial_console_group = cfg.OptGroup(
    "serial_console", title="Serial console options",
    help="Serial consoles of instances, reached through the nova-serialproxy service.")

serial_console_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="Give instances a serial console: each instance's first serial port "
                     "becomes a TCP server on the compute host, reached by users through "
                     "nova-serialproxy."),
    cfg.StrOpt("port_range", default=DEFAULT_PORT_RANGE, regex=PORT_RANGE_REGEX,
               help="Range of TCP ports, 'min:max' (both included), from which the compute "
                    "host gives each instance the port of its serial console. A port in "
                    "use by another program is skipped; when every port of the range is "
                    "taken, new instances fail to build."),
    cfg.URIOpt("base_url", default="ws://127.0.0.1:6083/",
               help="Public URL of nova-serialproxy. The console URL handed to users is "
                    "this URL with '?token=<token>' added."),
    cfg.HostAddressOpt("proxyclient_address", default="127.0.0.1",
                       help="Address of the compute host on which the instances' serial "
                            "ports listen, and which nova-serialproxy connects to."),
    cfg.HostAddressOpt("serialproxy_host", default="0.0.0.0",
                       help="Address nova-serialproxy listens on."),
    cfg.PortOpt("serialproxy_port", default=6083,
                help="Port nova-serialproxy listens on."),
]


def register_opts(conf):
    conf.register_group(serial_console_group)
    conf.register_opts(serial_console_opts, group=serial_console_group)


def list_opts():
    return {serial_console_group: serial_console_opts}
