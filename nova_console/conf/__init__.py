"""All options of nova_console, registered on oslo.config's global CONF."""
from oslo_config import cfg

from nova_console.conf import (api, catalog, console, consoleauth, database, default,
                               healthcheck, libvirt, mks, qemu, serial_console, spice,
                               static_consoles, upgrade_levels, vnc)

CONF = cfg.CONF

ALL_MODULES = (default, vnc, spice, serial_console, mks, consoleauth, console, database, api,
               catalog, upgrade_levels, qemu, static_consoles, libvirt, healthcheck)

for _module in ALL_MODULES:
    _module.register_opts(CONF)
