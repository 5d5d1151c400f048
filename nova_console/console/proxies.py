"""The console proxies of this project, in one table: each entry is the module of a
proxy (its NAME and settings(host, port, **own); what differs from the others).
The console scripts, the all-in-one and the tests build their servers from here."""
from nova_console.console import novnc
from nova_console.console import serial
from nova_console.console import server
from nova_console.console import spicehtml5
from nova_console.console import xvp

ALL = (novnc, xvp, spicehtml5, serial)
BY_NAME = {proxy.NAME: proxy for proxy in ALL}


def make_server(proxy, host=None, port=None, token_checker=None, **own):
    """The server of `proxy` (a module of ALL); serve_forever() runs it, stop() ends it."""
    return server.ConsoleProxyServer(proxy.settings(host, port, **own),
                                     token_checker=token_checker)
