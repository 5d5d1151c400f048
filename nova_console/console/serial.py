"""nova-serialproxy: WebSockets to the instances' serial ports (raw TCP servers on
the compute hosts), for a dashboard's serial console page. It serves no files.

What is its own: the WebSocket subprotocols, 'binary' (preferred) and 'base64'
(the console's bytes base64-encoded in text frames), both of which Horizon's
serial console page offers. A text frame on a 'binary' session, or a binary one
on a 'base64' session, ends it with 1003. The rest is the core's; a dashboard
served from another host needs its host in [console] allowed_origins.
"""
from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console.console import fronts
from nova_console.console import settings as proxy_settings

CONF = nc_conf.CONF

NAME = "nova-serialproxy"
SUBPROTOCOLS = ("binary", "base64")


def settings(host=None, port=None, **own):
    """nova-serialproxy's settings, on [serial_console] serialproxy_host/port unless
    host/port are given; `own` overrides any other setting."""
    return proxy_settings.from_conf(
        NAME, CONF.serial_console.serialproxy_host if host is None else host,
        CONF.serial_console.serialproxy_port if port is None else port,
        console_types.served_by(NAME), [fronts.WebSocketFront(SUBPROTOCOLS)], **own)
