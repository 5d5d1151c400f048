"""How a console proxy process runs, the same for every proxy's console script.

With [console] workers > 1 the listening socket is opened first, then that many
worker processes are forked to serve it (each with its own hub and RPC
connections); the first process only supervises them.
"""
import threading

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console.console import concurrency
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


def serve(proxy):
    """Run the proxy in this process until SIGTERM or SIGINT."""
    rpc.init()

    def stop():
        proxy.stop()
        rpc.cleanup()

    service.run_until_signalled(lambda: start_in_thread(proxy), stop)


def run(proxy):
    """A proxy's whole process: this one, or supervised workers."""
    LOG.info("%s serving on %s:%s with %d worker(s)%s", proxy.settings.name,
             *proxy.address[:2], CONF.console.workers,
             ", files from %s" % proxy.settings.web_root if proxy.settings.web_root else "")
    if CONF.console.workers > 1:
        concurrency.run_workers(CONF.console.workers, lambda: serve(proxy))
    else:
        serve(proxy)
