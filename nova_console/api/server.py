"""Serving the REST API: eventlet's WSGI server on osapi_compute_listen:port."""
import eventlet
import eventlet.wsgi
from oslo_log import log as logging

from nova_console import conf as nc_conf

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


class WSGIServer:
    """One listening socket, a green thread per connection (HTTP/1.1 keep-alive)."""

    def __init__(self, app, host, port, pool_size=1000):
        self.app = app
        self.socket = eventlet.listen((host, port), backlog=1024)
        self.host, self.port = self.socket.getsockname()[:2]
        self._pool = eventlet.GreenPool(pool_size)
        self._thread = None

    def start(self):
        # The app logs each request itself (with tokens masked), so eventlet's
        # access log, which prints raw paths, stays off.
        self._thread = eventlet.spawn(eventlet.wsgi.server, self.socket, self.app,
                                      custom_pool=self._pool, log_output=False,
                                      socket_timeout=CONF.client_socket_timeout)
        LOG.info("REST API listening on http://%s:%s/v2.1", self.host, self.port)

    def stop(self):
        if self._thread is not None:
            self._thread.kill()
            self._thread = None
        self.socket.close()
