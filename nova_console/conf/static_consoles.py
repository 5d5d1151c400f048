"""[static_consoles]: the static compute driver's list of existing console servers."""
from oslo_config import cfg

static_consoles_group = cfg.OptGroup(
    "static_consoles", title="Static compute driver",
    help="Consoles of machines that nova_console does not run (compute_driver = static).")

static_consoles_opts = [
    cfg.DictOpt("endpoints", default={},
                help="Console servers this compute host hands out, as name:host:port items, "
                     "e.g. 'bmc-rack1-07:10.1.0.7:5900,lab-kvm:[fd00::9]:5901'. Creating a "
                     "server with one of these names adopts that console server; any other "
                     "name fails to build."),
    cfg.DictOpt("serial_endpoints", default={},
                help="Serial consoles of the same machines (raw TCP: a terminal server's "
                     "port, a BMC's serial-over-LAN gateway), as name:host:port items with "
                     "the names of 'endpoints'. A machine without one has no serial "
                     "console (its serial console requests get 400)."),
    cfg.FloatOpt("reachability_timeout", default=5.0, min=0,
                 help="Seconds a new server's console server has to accept a TCP "
                      "connection before the build fails (0: do not check)."),
]


def register_opts(conf):
    conf.register_group(static_consoles_group)
    conf.register_opts(static_consoles_opts, group=static_consoles_group)


def list_opts():
    return {static_consoles_group: static_consoles_opts}
