"""nova-novncproxy: serves the noVNC client from [DEFAULT] web and proxies its
WebSocket to the instance's VNC server."""
from nova_console import conf as nc_conf
from nova_console.console import server
from nova_console.console import websocketproxy

CONF = nc_conf.CONF


class NoVNCProxyRequestHandler(websocketproxy.ConsoleProxyRequestHandler):
    """The proxy core for tokens of console type 'novnc'."""

    console_types = ("novnc",)


def make_server(host=None, port=None, token_checker=None):
    """The nova-novncproxy server, listening on [vnc] novncproxy_host/port unless
    host/port are given; call serve_forever() to run it, stop() to end it."""
    return server.ConsoleProxyServer(
        NoVNCProxyRequestHandler,
        CONF.vnc.novncproxy_host if host is None else host,
        CONF.vnc.novncproxy_port if port is None else port,
        web_root=CONF.web,
        token_checker=token_checker)
