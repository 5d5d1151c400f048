"""nova-novncproxy: serves noVNC from [DEFAULT] web and relays its WebSocket to the
instances' VNC servers. All it has of its own is this: the rest is the core's."""
from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console.console import fronts
from nova_console.console import settings as proxy_settings

CONF = nc_conf.CONF

NAME = "nova-novncproxy"


def settings(host=None, port=None, **own):
    """nova-novncproxy's settings, on [vnc] novncproxy_host/port unless host/port
    are given; `own` overrides any other setting."""
    own.setdefault("web_root", CONF.web)
    return proxy_settings.from_conf(
        NAME, CONF.vnc.novncproxy_host if host is None else host,
        CONF.vnc.novncproxy_port if port is None else port,
        console_types.served_by(NAME), [fronts.WebSocketFront()], **own)

