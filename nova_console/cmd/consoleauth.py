"""nova-consoleauth: the console token service (any number of workers per database)."""
import sys

from nova_console import conf as nc_conf
from nova_console import config
from nova_console import consoleauth
from nova_console.consoleauth import manager as consoleauth_manager
from nova_console.db import migration
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF


def build_service():
    manager = consoleauth_manager.ConsoleAuthManager()
    purge = service.PeriodicTask(manager.purge_expired_tokens, CONF.consoleauth.purge_interval)
    return service.RPCService(consoleauth.TOPIC, CONF.host, [manager], [purge])


def main():
    config.parse_args(sys.argv)
    migration.check_schema_current()
    rpc.init()
    rpc_service = build_service()

    def stop():
        rpc_service.stop()
        rpc.cleanup()

    service.run_until_signalled(rpc_service.start, stop)
