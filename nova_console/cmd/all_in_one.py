"""nova-console-all-in-one: every service in one process, ready for a browser.

The embedded default: in-memory message bus (unless transport_url is set),
SQLite in the state directory, API and every proxy (noVNC, XVP, spice-html5, serial) on
127.0.0.1, SPICE consoles on, the qemu compute driver when QEMU and nasm are installed
(else the fake one) unless compute_driver is set, and one demo instance whose console
URLs are printed (each one its driver can serve).
Its servers stop with it: Ctrl-C deletes them.
"""
import os
import shutil
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging

from nova_console.api import catalog
from nova_console.cmd import api as api_cmd
from nova_console.cmd import compute as compute_cmd
from nova_console.cmd import consoleauth as consoleauth_cmd
from nova_console.compute import api as compute_api
from nova_console.compute.drivers import loader
from nova_console.console import launcher
from nova_console.console import proxies
from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console import config
from nova_console import context
from nova_console.db import api as db
from nova_console.db import migration
from nova_console import exception
from nova_console import rpc
from nova_console import service
from nova_console.compute import vm_states

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

DEMO_SERVER_NAME = "demo"
NASM = "nasm"


def _set_local_defaults():
    """Listen on loopback only unless the operator's config says otherwise."""
    CONF.set_default("osapi_compute_listen", "127.0.0.1")
    CONF.set_default("novncproxy_host", "127.0.0.1", group="vnc")
    CONF.set_default("xvpvncproxy_host", "127.0.0.1", group="vnc")
    CONF.set_default("html5proxy_host", "127.0.0.1", group="spice")
    CONF.set_default("serialproxy_host", "127.0.0.1", group="serial_console")
    CONF.set_default("enabled", True, group="spice")
    CONF.set_default("enabled", True, group="serial_console")
    CONF.set_default("report_interval", 2)
    rpc.set_default_transport_url("fake://")


def _configured(option):
    """True if [DEFAULT] `option` was set by the operator (file or command line)."""
    location = CONF.get_location(option)
    return location is not None and location.location not in (cfg.Locations.opt_default,
                                                              cfg.Locations.set_default)


def choose_compute_driver():
    """(name, driver, why): the configured compute_driver; else qemu when QEMU and nasm
    are installed and the qemu driver loads; else fake. DriverLoadError if the
    configured driver cannot be loaded."""
    if _configured("compute_driver"):
        name = CONF.compute_driver
        return name, loader.load_driver(name), "set in the configuration"
    qemu = shutil.which(CONF.qemu.binary)
    if qemu is None:
        return "fake", loader.load_driver("fake"), "QEMU not installed"
    if shutil.which(NASM) is None:
        return "fake", loader.load_driver("fake"), "QEMU found at %s, but not nasm" % qemu
    try:
        return "qemu", loader.load_driver("qemu"), "QEMU found at %s" % qemu
    except exception.DriverLoadError as exc:
        LOG.warning("%s", exc.message)
        return "fake", loader.load_driver("fake"), "QEMU found at %s, but unusable" % qemu


class AllInOne:

    def __init__(self):
        name, driver, why = choose_compute_driver()
        self.driver_line = "Compute driver: %s (%s)" % (name, why)
        LOG.info("%s", self.driver_line)
        self.manager, self.compute_service = compute_cmd.build_service(driver)
        self.consoleauth_service = consoleauth_cmd.build_service()
        self.wsgi_server, self.api_service = api_cmd.build_services()
        # Every proxy in this process, each with its own settings and port.
        self.proxies = [proxies.make_server(proxy) for proxy in proxies.ALL]

    def start(self):
        # The API answers the compute host's start-up sync: it goes first.
        for rpc_service in (self.consoleauth_service, self.api_service):
            rpc_service.start()
        self.manager.init_host()
        self.compute_service.start()
        self.wsgi_server.start()
        for proxy in self.proxies:
            launcher.start_in_thread(proxy)
        self._boot_demo_server()

    def reload(self):
        for proxy in self.proxies:
            proxy.reload()

    def stop(self):
        for proxy in self.proxies:
            proxy.stop()
        self.wsgi_server.stop()
        for rpc_service in (self.compute_service, self.api_service, self.consoleauth_service):
            rpc_service.stop()
        self._delete_servers()
        self.manager.cleanup_host()
        rpc.cleanup()

    def _delete_servers(self):
        """Everything stops with the all-in-one, its servers too (QEMU instances would
        outlive it otherwise): they are destroyed and deleted."""
        for instance in db.instance_get_all(host=self.manager.host):
            try:
                self.manager.driver.destroy(instance)
            except Exception:
                LOG.exception("Could not destroy instance %s", instance["uuid"])
                continue
            db.console_token_delete_for_instance(instance["uuid"])
            db.instance_destroy(instance["uuid"])
            LOG.info("Deleted server %s (%s)", instance["uuid"], instance["name"])

    def _boot_demo_server(self, timeout=60):
        ctxt = context.RequestContext(user_id=CONF.api.noauth2_default_user,
                                      project_id=CONF.api.noauth2_default_project,
                                      overwrite=False)
        api = compute_api.API()
        deadline = time.time() + timeout
        while not api.up_compute_services():  # the first heartbeat is on its way
            if time.time() > deadline:
                raise RuntimeError("the compute service did not report in time")
            time.sleep(0.1)
        instance = api.create(ctxt, DEMO_SERVER_NAME)
        while instance["vm_state"] == vm_states.BUILDING and time.time() < deadline:
            time.sleep(0.1)
            instance = db.instance_get_by_uuid(instance["uuid"])
        if instance["vm_state"] != vm_states.ACTIVE:
            raise RuntimeError("demo server ended in state %s: %s"
                               % (instance["vm_state"], instance["fault"]))
        consoles = "".join("  With %s:\n\n      %s\n\n" % (kind.client, url)
                           for kind, url in _console_urls(api, ctxt, instance))
        api_url = "http://%s:%s/v2.1" % (self.wsgi_server.host, self.wsgi_server.port)
        print(_BANNER % {"name": DEMO_SERVER_NAME, "id": instance["uuid"],
                         "consoles": consoles, "api": api_url,
                         "ttl": CONF.consoleauth.token_ttl,
                         "state": CONF.state_path, "driver": self.driver_line}, flush=True)


def _console_urls(api, ctxt, instance):
    """(console type, URL) of each console of `instance` that a proxy of this process
    serves and its driver can give."""
    for kind in console_types.TYPES:
        if kind.proxy not in proxies.BY_NAME:
            continue
        try:
            yield kind, api.get_console(ctxt, instance, kind.name)["url"]
        except exception.ConsoleTypeUnavailable as exc:
            LOG.info("No %s console for the demo server: %s", kind.name, exc.message)


_BANNER = """
nova_console is running (all services in this process). Ctrl-C stops it and deletes
its servers.

  %(driver)s

  Demo server "%(name)s" (%(id)s). Open its consoles:

%(consoles)s  The links work for %(ttl)s seconds. Ask the REST API for a new one:

      curl -s -X POST -H 'X-Auth-Token: demo:demo' -H 'Content-Type: application/json' \\
           -d '{"os-getVNCConsole": {"type": "novnc"}}' %(api)s/servers/%(id)s/action

  State (SQLite database): %(state)s
"""


def main():
    _set_local_defaults()
    config.parse_args(sys.argv)
    os.makedirs(CONF.state_path, exist_ok=True)
    migration.db_sync()
    rpc.init()
    LOG.info("Message bus: %s", "in-memory" if CONF.transport_url == "fake://"
             else "from transport_url")
    try:
        services = AllInOne()
    except exception.DriverLoadError as exc:
        LOG.critical("%s", exc.message)
        return 1
    except catalog.CatalogConfigError:
        LOG.critical("nova-console-all-in-one cannot start")  # oslo.log appends why
        return 1
    return service.run(service.Service("nova-console-all-in-one", services.start,
                                       services.stop, reload=services.reload))
