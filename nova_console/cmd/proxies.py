"""The console scripts of the console proxies: nova-novncproxy, nova-xvpvncproxy,
nova-spicehtml5proxy and nova-serialproxy (console/proxies.py has each one)."""
import sys

from oslo_log import log as logging

from nova_console import config
from nova_console.console import launcher
from nova_console.console import proxies
from nova_console.console import server

LOG = logging.getLogger(__name__)


def run(name):
    """Parse the command line and serve proxy `name` until SIGTERM or SIGINT; status 1
    with one line saying why if its options do not let it start."""
    config.parse_args(sys.argv)
    try:
        proxy = proxies.make_server(proxies.BY_NAME[name])
    except server.ConsoleProxyConfigError:
        # One line: oslo.log appends the exception's class and message to it.
        LOG.critical("%s cannot start", name)
        return 1
    return launcher.run(proxy)


def novncproxy():
    return run("nova-novncproxy")


def xvpvncproxy():
    return run("nova-xvpvncproxy")


def spicehtml5proxy():
    return run("nova-spicehtml5proxy")


def serialproxy():
    return run("nova-serialproxy")
