"""The API service's RPC endpoint: stores what compute hosts report, and tells them what
the API believes runs on them (compute hosts hold no database credentials)."""
import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console import compute
from nova_console.db import api as db
from nova_console.compute import vm_states

LOG = logging.getLogger(__name__)

# What a compute host may change on an instance.
REPORTABLE_FIELDS = frozenset(("vm_state", "task_state", "power_state", "fault"))
# What a compute host is told of an instance.
HOST_VIEW_FIELDS = ("uuid", "name", "host", "project_id", "vm_state", "task_state",
                    "power_state")


def host_view(instance):
    view = {field: instance[field] for field in HOST_VIEW_FIELDS}
    if instance["deleted"]:
        view["vm_state"] = vm_states.DELETED
    return view


class APIManager:
    target = messaging.Target(version="1.2")

    def service_heartbeat(self, context, host, binary, topic=None, hypervisor_type=None):
        """A service's "I am up". Before 1.2 only compute hosts sent it, without
        topic and hypervisor_type (the row keeps the driver it last reported)."""
        db.service_heartbeat(host, binary, topic=topic or compute.TOPIC,
                             hypervisor_type=hypervisor_type)

    def instance_update(self, context, instance_uuid, values, expected_task_state=None):
        """Store a host's report; True if stored, False if the instance is gone or (with
        expected_task_state) in another task state, so the report came too late."""
        values = {key: value for key, value in values.items() if key in REPORTABLE_FIELDS}
        if values.get("vm_state") == vm_states.DELETED:
            if db.instance_destroy(instance_uuid):
                LOG.info("Instance %s deleted", instance_uuid)
                return True
            return False
        expected = () if expected_task_state is None else tuple(expected_task_state)
        if db.instance_update(instance_uuid, values, expected_task_state=expected) is None:
            LOG.info("Ignored a report for instance %s, which is gone or no longer in "
                     "task state %s: %s", instance_uuid, list(expected), values)
            return False
        LOG.info("Instance %s is now %s", instance_uuid, values)
        return True

    def get_instances_on_host(self, context, host, uuids=()):
        """The live instances of `host`, plus the instances `uuids` (live or deleted,
        wherever they are): what a compute host compares with what its driver has."""
        views = {instance["uuid"]: host_view(instance)
                 for instance in db.instance_get_all(host=host)}
        for uuid in uuids:
            if uuid not in views:
                instance = db.instance_get_by_uuid(uuid, read_deleted=True)
                if instance is not None:
                    views[uuid] = host_view(instance)
        return list(views.values())
