"""nova-novncproxy: serves noVNC and relays its WebSocket to instances' VNC servers.

With [console] workers > 1 the listening socket is opened first, then that many
worker processes are forked to serve it (each with its own hub and RPC
connections); this process only supervises them.
"""
import sys
import threading

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import config
from nova_console.console import concurrency
from nova_console.console import novnc
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def start_in_thread(proxy):
    thread = threading.Thread(target=proxy.serve_forever, name="novncproxy", daemon=True)
    thread.start()
    return thread


def serve(proxy):
    """Run the proxy in this process until SIGTERM or SIGINT."""
    rpc.init()

    def stop():
        proxy.stop()
        rpc.cleanup()

    service.run_until_signalled(lambda: start_in_thread(proxy), stop)


def main():
    config.parse_args(sys.argv)
    proxy = novnc.make_server()
    LOG.info("nova-novncproxy serving noVNC from %s on %s:%s with %d worker(s)", CONF.web,
             *proxy.address[:2], CONF.console.workers)
    if CONF.console.workers > 1:
        concurrency.run_workers(CONF.console.workers, lambda: serve(proxy))
    else:
        serve(proxy)
