"""nova-console-compute: the compute service of one hypervisor host."""
import sys

from oslo_log import log as logging

from nova_console import compute
from nova_console.compute.drivers import loader
from nova_console.compute import manager as compute_manager
from nova_console import conf as nc_conf
from nova_console import config
from nova_console import exception
from nova_console import rpc
from nova_console import service

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def build_service(driver=None):
    """The compute RPC service for CONF.host; the caller runs manager.init_host(), then
    starts and stops it. DriverLoadError if the configured driver cannot be loaded."""
    driver = driver or loader.load_driver(CONF.compute_driver)
    LOG.info("Compute host %s uses driver %s", CONF.host, type(driver).__name__)
    manager = compute_manager.ComputeManager(CONF.host, driver,
                                             sync_interval=CONF.sync_power_state_interval)
    heartbeat = service.PeriodicTask(manager.report_heartbeat, CONF.report_interval)
    # Every report interval: until the start-up sync is done, it is retried at this pace;
    # then the manager syncs once its sync interval has passed.
    state_sync = service.PeriodicTask(manager.sync_instances, CONF.report_interval,
                                      run_immediately=False)
    rpc_service = service.RPCService(compute.TOPIC, CONF.host, [manager],
                                     [heartbeat, state_sync])
    return manager, rpc_service


def main():
    config.parse_args(sys.argv)
    rpc.init()
    try:
        manager, rpc_service = build_service()
    except exception.DriverLoadError as exc:
        LOG.critical("%s", exc.message)  # one line: the reason is all an operator needs
        return 1
    manager.init_host()

    def stop():
        rpc_service.stop()
        manager.cleanup_host()
        rpc.cleanup()

    return service.run(service.Service("nova-console-compute", rpc_service.start, stop))
