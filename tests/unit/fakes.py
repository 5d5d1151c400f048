"""Test doubles shared by unit tests."""
from nova_console.compute.drivers import base
from nova_console import exception


class StubDriver(base.ComputeDriver):
    def __init__(self, spawn_error=None):
        self.running = {}
        self.spawn_error = spawn_error

    def spawn(self, instance):
        if self.spawn_error:
            raise self.spawn_error
        self.running[instance["uuid"]] = 5901

    def destroy(self, instance):
        self.running.pop(instance["uuid"], None)

    def list_instances(self):
        return list(self.running)

    def get_power_state(self, instance):
        if instance["uuid"] not in self.running:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return base.RUNNING

    def get_vnc_console(self, instance):
        if instance["uuid"] not in self.running:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return base.ConsoleEndpoint("10.0.0.5", self.running[instance["uuid"]])


class RecordingAPI:
    def __init__(self):
        self.updates = []
        self.heartbeats = []

    def instance_update(self, ctxt, instance_uuid, values):
        self.updates.append((instance_uuid, values))

    def service_heartbeat(self, ctxt, host, binary):
        self.heartbeats.append((host, binary))
