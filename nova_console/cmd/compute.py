"""nova-console-compute: the compute service of one hypervisor host."""
import sys

from oslo_log import log as logging

from nova_console import compute
from nova_console.compute.drivers import loader
from nova_console.compute import manager as compute_manager
from nova_console import conf as nc_conf
from nova_console import config
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def build_service(driver=None):
    """The compute RPC service for CONF.host; the caller starts and stops it."""
    driver = driver or loader.load_driver(CONF.compute_driver)
    LOG.info("Compute host %s uses driver %s", CONF.host, type(driver).__name__)
    manager = compute_manager.ComputeManager(CONF.host, driver)
    heartbeat = service.PeriodicTask(manager.report_heartbeat, CONF.report_interval)
    rpc_service = service.RPCService(compute.TOPIC, CONF.host, [manager], [heartbeat])
    return manager, rpc_service


def main():
    config.parse_args(sys.argv)
    rpc.init()
    manager, rpc_service = build_service()
    manager.init_host()

    def stop():
        rpc_service.stop()
        manager.cleanup_host()
        rpc.cleanup()

    service.run_until_signalled(rpc_service.start, stop)
