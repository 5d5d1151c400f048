"""How a console proxy process runs, the same for every proxy's console script.

The listening socket is open before the service starts. With [console] workers > 1,
oslo.service's ProcessLauncher forks that many worker processes to serve it (each
with its own hub and RPC connections, each gone as soon as its parent is); the first
process only supervises them (service.py).
"""
import threading

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def start_in_thread(proxy):
    """Serve `proxy` (a server.ConsoleProxyServer) in a daemon thread; the thread."""
    thread = threading.Thread(target=proxy.serve_forever, name=proxy.settings.name,
                              daemon=True)
    thread.start()
    return thread


def proxy_service(proxy):
    """The service of one proxy process (or of each worker): RPC, serve, stop, reload."""

    def start():
        rpc.init()
        start_in_thread(proxy)

    def stop():
        proxy.stop()
        rpc.cleanup()

    return service.Service(proxy.settings.name, start, stop, reload=proxy.reload)


def run(proxy):
    """A proxy's whole process: this one, or supervised workers; its exit status."""
    LOG.info("%s serving on %s:%s with %d worker(s)%s", proxy.settings.name,
             *proxy.address[:2], CONF.console.workers,
             ", files from %s" % proxy.settings.web_root if proxy.settings.web_root else "")
    return service.run(proxy_service(proxy), workers=CONF.console.workers)
