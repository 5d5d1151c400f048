"""All options of nova_console, registered on oslo.config's global CONF."""
from oslo_config import cfg

from nova_console.conf import (api, console, consoleauth, database, default, libvirt, qemu,
                               serial_console, static_consoles, upgrade_levels, vnc)

CONF = cfg.CONF

ALL_MODULES = (default, vnc, consoleauth, console, database, api, upgrade_levels, serial_console,
               qemu, static_consoles, libvirt)

for _module in ALL_MODULES:
    _module.register_opts(CONF)
