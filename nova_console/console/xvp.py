"""nova-xvpvncproxy: HTTP CONNECT for Java VNC viewers, the console's own bytes after.

The viewer (cloudbuilders' nova-xvpvncviewer, a TightVNC derivative, given the
console URL <xvpvncproxy_base_url>?token=<token>) sends
"CONNECT /console?token=<token> HTTP/1.0" and a blank line, wants a first answer
line starting "HTTP/1.1 200 ", skips header lines to the blank line, then speaks
RFB on the same socket. So this proxy takes CONNECT only (fronts.ConnectFront),
at the path of its base URL, with the same token checks, port validation,
session events and relay as every other proxy; refusals are 400 (no token) and
401 (a bad token, or one of another console type), as Nova's XVP proxy answered.
It serves no files.
"""
import urllib.parse

from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console.console import fronts
from nova_console.console import settings as proxy_settings

CONF = nc_conf.CONF

NAME = "nova-xvpvncproxy"


def settings(host=None, port=None, **own):
    """nova-xvpvncproxy's settings, on [vnc] xvpvncproxy_host/port unless host/port
    are given; `own` overrides any other setting."""
    path = urllib.parse.urlsplit(CONF.vnc.xvpvncproxy_base_url).path or "/console"
    return proxy_settings.from_conf(
        NAME, CONF.vnc.xvpvncproxy_host if host is None else host,
        CONF.vnc.xvpvncproxy_port if port is None else port,
        console_types.served_by(NAME), [fronts.ConnectFront(path)], **own)

