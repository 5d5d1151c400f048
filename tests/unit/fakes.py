"""Test doubles shared by unit tests."""
import contextlib

import oslo_messaging as messaging
import pytest

from nova_console.compute.drivers import base
from nova_console import exception
from nova_console.compute import power_state


@contextlib.contextmanager
def raises_expected(exc_class):
    """pytest.raises for an RPC endpoint method marked with expected_exceptions and
    called directly: oslo.messaging wraps what it raises (its dispatcher unwraps it)."""
    with pytest.raises(exc_class) as raised:
        try:
            yield raised
        except messaging.ExpectedException as wrapped:
            raise wrapped.exc_info[1] from None


class StubDriver(base.ComputeDriver):
    """A driver over dicts: `running` maps uuid -> VNC port; `power` overrides the power
    state of an instance (SHUTDOWN: its guest stopped); `output` is its console log. Its
    SPICE server is on the VNC port + 100 (TLS: + 200), its serial port on + 5000; it
    has no MKS console."""

    def __init__(self, spawn_error=None):
        self.running = {}
        self.power = {}
        self.output = {}
        self.reboots = []
        self.spawns = []
        self.spawn_error = spawn_error
        self.reboot_error = None
        self.init_hosts = []

    def init_host(self, host):
        self.init_hosts.append(host)

    def spawn(self, instance):
        if self.spawn_error:
            raise self.spawn_error
        self.spawns.append(instance["uuid"])
        self.running[instance["uuid"]] = 5901

    def destroy(self, instance):
        self.running.pop(instance["uuid"], None)
        self.power.pop(instance["uuid"], None)

    def reboot(self, instance):
        self._known(instance)
        if self.reboot_error:
            raise self.reboot_error
        if self.power.get(instance["uuid"], power_state.RUNNING) != power_state.RUNNING:
            raise exception.InstanceNotRunning(instance_id=instance["uuid"])
        self.reboots.append(instance["uuid"])

    def list_instances(self):
        return list(self.running)

    def get_power_state(self, instance):
        self._known(instance)
        return self.power.get(instance["uuid"], power_state.RUNNING)

    def get_vnc_console(self, instance):
        return base.ConsoleEndpoint("10.0.0.5", self._running_port(instance))

    def get_spice_console(self, instance):
        port = self._running_port(instance)
        return base.ConsoleEndpoint("10.0.0.5", port + 100, tls_port=port + 200)

    def get_serial_console(self, instance):
        return base.ConsoleEndpoint("10.0.0.5", self._running_port(instance) + 5000)

    def _running_port(self, instance):
        self._known(instance)
        if self.power.get(instance["uuid"], power_state.RUNNING) != power_state.RUNNING:
            raise exception.InstanceNotRunning(instance_id=instance["uuid"])
        return self.running[instance["uuid"]]

    def get_console_output(self, instance):
        self._known(instance)
        return self.output.get(instance["uuid"], "")

    def _known(self, instance):
        if instance["uuid"] not in self.running:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])


class RecordingAPI:
    """The API's RPC client as a compute host sees it.

    Every report is recorded in `updates` as (uuid, values) (and its expected task
    states in `expectations`). Instances added with add() are also kept as the API
    would: a report is applied only if the instance is there and in an expected task
    state, and the answer says whether it was (None, as from an API service that does
    not say, for instances it does not track). `reachable = False` makes
    get_instances_on_host time out.
    """

    def __init__(self):
        self.updates = []
        self.expectations = []
        self.heartbeats = []
        self.instances = {}  # uuid -> what the API knows (a host view)
        self.deleted = set()
        self.reachable = True
        self.sync_requests = []

    def add(self, uuid, name="vm", host="h1", vm_state="active", task_state=None,
            power_state=power_state.RUNNING, project_id="p"):
        self.instances[uuid] = {"uuid": uuid, "name": name, "host": host,
                                "project_id": project_id, "vm_state": vm_state,
                                "task_state": task_state, "power_state": power_state}
        return dict(self.instances[uuid])

    def instance_update(self, ctxt, instance_uuid, values, expected_task_state=None):
        self.updates.append((instance_uuid, values))
        self.expectations.append(expected_task_state)
        if instance_uuid in self.deleted:
            return False
        instance = self.instances.get(instance_uuid)
        if instance is None:
            return None
        if (expected_task_state is not None
                and instance["task_state"] not in expected_task_state):
            return False
        if values.get("vm_state") == "deleted":
            del self.instances[instance_uuid]
            self.deleted.add(instance_uuid)
            return True
        instance.update(values)
        return True

    def get_instances_on_host(self, ctxt, host, uuids=(), timeout=None):
        self.sync_requests.append((host, list(uuids)))
        if not self.reachable:
            raise messaging.MessagingTimeout("the API does not answer")
        views = [dict(i) for i in self.instances.values() if i["host"] == host]
        for uuid in uuids:
            if uuid in self.deleted:
                views.append({"uuid": uuid, "name": "gone", "host": host, "project_id": "p",
                              "vm_state": "deleted", "task_state": None, "power_state": 0})
            elif uuid in self.instances and self.instances[uuid]["host"] != host:
                views.append(dict(self.instances[uuid]))
        return views

    def service_heartbeat(self, ctxt, host, binary):
        self.heartbeats.append((host, binary))
