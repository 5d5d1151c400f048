"""The API service's RPC endpoint: stores what compute hosts report."""
import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console import compute
from nova_console.db import api as db

LOG = logging.getLogger(__name__)

# What a compute host may change on an instance.
REPORTABLE_FIELDS = frozenset(("vm_state", "task_state", "power_state", "fault"))


class APIManager:
    target = messaging.Target(version="1.0")

    def service_heartbeat(self, context, host, binary):
        db.service_heartbeat(host, binary, topic=compute.TOPIC)

    def instance_update(self, context, instance_uuid, values):
        values = {key: value for key, value in values.items() if key in REPORTABLE_FIELDS}
        if values.get("vm_state") == "deleted":
            db.instance_destroy(instance_uuid)
            LOG.info("Instance %s deleted", instance_uuid)
            return
        if db.instance_update(instance_uuid, values) is None:
            LOG.info("Ignored a report for instance %s, which is gone", instance_uuid)
            return
        LOG.info("Instance %s is now %s", instance_uuid, values)
