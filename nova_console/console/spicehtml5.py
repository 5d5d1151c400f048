"""nova-spicehtml5proxy: serves spice-html5 from [spice] html5proxy_web and relays
its WebSockets to the instances' SPICE servers.

What is its own: spice_auto.html sends the token only as a 'token' cookie (the
page sets it from its URL, then opens ws://<host>:<port>/websockify), so this
proxy reads the cookie and refuses a URL token that disagrees with it; and a
SPICE client opens one WebSocket per channel (main, display, inputs, cursor...),
each of them admitted by the same token while it is valid. The rest is the core's.
"""
from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console.console import fronts
from nova_console.console import settings as proxy_settings

CONF = nc_conf.CONF

NAME = "nova-spicehtml5proxy"


def settings(host=None, port=None, **own):
    """nova-spicehtml5proxy's settings, on [spice] html5proxy_host/port unless
    host/port are given; `own` overrides any other setting."""
    own.setdefault("web_root", CONF.spice.html5proxy_web)
    own.setdefault("token_cookie", True)
    return proxy_settings.from_conf(
        NAME, CONF.spice.html5proxy_host if host is None else host,
        CONF.spice.html5proxy_port if port is None else port,
        console_types.served_by(NAME), [fronts.WebSocketFront()], **own)
