"""nova-console-api: the REST API, plus the RPC endpoint compute hosts report to."""
import sys

from oslo_log import log as logging

from nova_console import api
from nova_console.api import app as api_app
from nova_console.api import catalog
from nova_console.api import manager as api_manager
from nova_console.api import server
from nova_console import conf as nc_conf
from nova_console import config
from nova_console.db import migration
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def build_services():
    """The WSGI server and the RPC service; the caller starts and stops them."""
    wsgi_server = server.WSGIServer(api_app.make_app(), CONF.osapi_compute_listen,
                                    CONF.osapi_compute_listen_port)
    rpc_service = service.RPCService(api.TOPIC, CONF.host, [api_manager.APIManager()])
    return wsgi_server, rpc_service


def main():
    config.parse_args(sys.argv)
    migration.exit_unless_schema_current()
    rpc.init()
    try:
        wsgi_server, rpc_service = build_services()
    except catalog.CatalogConfigError:
        # One line: oslo.log appends the exception's class and message to it.
        LOG.critical("nova-console-api cannot start")
        return 1

    def start():
        rpc_service.start()
        wsgi_server.start()

    def stop():
        wsgi_server.stop()
        rpc_service.stop()
        rpc.cleanup()

    return service.run(service.Service("nova-console-api", start, stop))
