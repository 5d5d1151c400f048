"""nova-xvpvncproxy: HTTP CONNECT for Java VNC viewers, relayed to instances' VNC
servers."""
import sys

from nova_console import config
from nova_console.console import launcher
from nova_console.console import xvp


def main():
    config.parse_args(sys.argv)
    launcher.run(xvp.make_server())
