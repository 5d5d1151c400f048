"""The fake compute driver: instances that are nothing but a VNC server.

For unit and functional tests and all-in-one demos. Every spawned instance
is "running" at once and owns a real RFB server (``fake_display``) on
``[vnc] server_listen``, whose screen shows the instance name in large
letters: whoever opens a console can see which instance they were given.
It also gives that server as its MKS console, only to prove the MKS path (API,
token, console URL, token lookup): a WebMKS client would find RFB there.
"""
import threading

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import base
from nova_console.compute.drivers import fake_display
from nova_console.compute import power_state

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


class FakeDriver(base.ComputeDriver):
    """Runs instances as in-process VNC servers; nothing survives a restart."""

    def __init__(self):
        self._lock = threading.Lock()
        self._displays = {}  # instance uuid -> fake_display.RFBDisplay

    def cleanup_host(self, host):
        with self._lock:
            displays, self._displays = list(self._displays.values()), {}
        for display in displays:
            display.stop()

    def spawn(self, instance):
        uuid = instance["uuid"]
        with self._lock:
            if uuid in self._displays:
                raise exception.Invalid(reason="instance %s is already running" % uuid)
            display = fake_display.RFBDisplay(instance["name"], CONF.vnc.server_listen)
            try:
                display.start()
            except OSError as exc:
                raise exception.NovaConsoleException(
                    "Could not start the VNC server of instance %s on %s: %s"
                    % (uuid, CONF.vnc.server_listen, exc)) from exc
            self._displays[uuid] = display
        LOG.info("Spawned fake instance %s (%s), VNC port %d", uuid, instance["name"],
                 display.port)

    def destroy(self, instance):
        with self._lock:
            display = self._displays.pop(instance["uuid"], None)
        if display is not None:
            display.stop()
            LOG.info("Destroyed fake instance %s", instance["uuid"])

    def list_instances(self):
        with self._lock:
            return list(self._displays)

    def get_power_state(self, instance):
        self._display(instance)
        return power_state.RUNNING

    def get_vnc_console(self, instance):
        display = self._display(instance)
        return base.ConsoleEndpoint(host=CONF.vnc.server_proxyclient_address,
                                    port=display.port)

    def get_mks_console(self, instance):
        return self.get_vnc_console(instance)

    def _display(self, instance):
        with self._lock:
            display = self._displays.get(instance["uuid"])
        if display is None:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return display
