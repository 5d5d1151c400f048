"""The console scripts of the console proxies: nova-novncproxy, nova-xvpvncproxy,
nova-spicehtml5proxy and nova-serialproxy (console/proxies.py has each one)."""
import sys

from nova_console import config
from nova_console.console import launcher
from nova_console.console import proxies


def run(name):
    """Parse the command line and serve proxy `name` until SIGTERM or SIGINT."""
    config.parse_args(sys.argv)
    launcher.run(proxies.make_server(proxies.BY_NAME[name]))


def novncproxy():
    run("nova-novncproxy")


def xvpvncproxy():
    run("nova-xvpvncproxy")


def spicehtml5proxy():
    run("nova-spicehtml5proxy")


def serialproxy():
    run("nova-serialproxy")
