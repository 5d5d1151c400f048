"""nova-novncproxy: serves noVNC and relays its WebSocket to instances' VNC servers."""
import sys
import threading

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import config
from nova_console.console import novnc
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def start_in_thread(proxy):
    thread = threading.Thread(target=proxy.serve_forever, name="novncproxy", daemon=True)
    thread.start()
    return thread


def main():
    config.parse_args(sys.argv)
    rpc.init()
    proxy = novnc.make_server()
    LOG.info("nova-novncproxy serving noVNC from %s on %s:%s", CONF.web, *proxy.address[:2])

    def stop():
        proxy.stop()
        rpc.cleanup()

    service.run_until_signalled(lambda: start_in_thread(proxy), stop)
