"""nova-consoleauth: the console token service (any number of workers per database)."""
import sys

from nova_console.api import rpcapi as api_rpcapi
from nova_console import conf as nc_conf
from nova_console import config
from nova_console import consoleauth
from nova_console.consoleauth import manager as consoleauth_manager
from nova_console.db import migration
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
BINARY = "nova-consoleauth"


def build_service():
    """The consoleauth RPC service: purges expired tokens, and reports to the API as
    compute hosts do (os-services lists it, up or down)."""
    manager = consoleauth_manager.ConsoleAuthManager()
    purge = service.PeriodicTask(manager.purge_expired_tokens, CONF.consoleauth.purge_interval)
    heartbeat = service.PeriodicTask(
        api_rpcapi.Heartbeat(CONF.host, BINARY, consoleauth.TOPIC).report,
        CONF.report_interval)
    return service.RPCService(consoleauth.TOPIC, CONF.host, [manager], [purge, heartbeat])


def main():
    config.parse_args(sys.argv)
    migration.exit_unless_schema_current()
    rpc.init()
    rpc_service = build_service()

    def stop():
        rpc_service.stop()
        rpc.cleanup()

    return service.run(service.Service(BINARY, rpc_service.start, stop))
