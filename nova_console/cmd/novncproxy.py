"""nova-novncproxy: serves noVNC and relays its WebSocket to instances' VNC servers."""
import sys

from nova_console import config
from nova_console.console import launcher
from nova_console.console import novnc


def main():
    config.parse_args(sys.argv)
    launcher.run(novnc.make_server())
