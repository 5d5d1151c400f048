"""All options of nova_console, registered on oslo.config's global CONF."""
from oslo_config import cfg

from nova_console.conf import (api, console, consoleauth, database, default, libvirt, mks,
                               qemu, serial_console, spice, static_consoles, upgrade_levels,
                               vnc)

CONF = cfg.CONF

ALL_MODULES = (default, vnc, spice, serial_console, mks, consoleauth, console, database, api,
               upgrade_levels, qemu, static_consoles, libvirt)

for _module in ALL_MODULES:
    _module.register_opts(CONF)
