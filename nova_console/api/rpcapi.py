"""Client side of the API service's RPC API: what compute hosts report and ask."""
import oslo_messaging as messaging

from nova_console import api
from nova_console import conf as nc_conf
from nova_console import context as nc_context
from nova_console import rpc

CONF = nc_conf.CONF


class APIReportsAPI:
    """Client side of the nova-console-api RPC API (any API worker may answer).

    API version history:

        * 1.0 - Initial version: service_heartbeat, instance_update.
        * 1.1 - instance_update takes expected_task_state and returns whether it
                stored the report.
        * 1.1 - Add get_instances_on_host.
        * 1.2 - service_heartbeat takes topic and hypervisor_type (consoleauth workers
                beat too; compute hosts say which driver they run).

    Capped at 1.0 ([upgrade_levels] api = 1.0, while an API service still runs 1.0),
    instance_update is sent without expected_task_state (stored unconditionally, as
    1.0 did) and get_instances_on_host answers None: the host skips its state sync.
    """

    VERSION = "1.2"

    def __init__(self):
        target = messaging.Target(topic=api.TOPIC, version="1.0")
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.api)

    def service_heartbeat(self, ctxt, host, binary, topic=None, hypervisor_type=None):
        """Tell the API `binary` on `host` is up. Capped below 1.2, topic and
        hypervisor_type are not sent: a 1.1 API stores the beat as a compute host's."""
        kwargs = {"host": host, "binary": binary}
        version = "1.0"
        if self.client.can_send_version("1.2"):
            version = "1.2"
            kwargs.update(topic=topic, hypervisor_type=hypervisor_type)
        # cast: a heartbeat that is lost is replaced by the next one.
        self.client.prepare(version=version).cast(ctxt or nc_context.get_admin_context(),
                                                  "service_heartbeat", **kwargs)


    def instance_update(self, ctxt, instance_uuid, values, expected_task_state=None):
        """Store what a host reports; with expected_task_state (a list of task states,
        None among them meaning "no task"), only if the instance is in one of them.

        True if stored, False if not (instance gone, or in another task state by now);
        None from a 1.0 API service, which does not say.
        """
        # call: the compute host knows its report was stored (and a lost report
        # shows up as an error in its log, not as a server stuck in BUILD).
        kwargs = {"instance_uuid": instance_uuid, "values": values}
        version = "1.0"
        if expected_task_state is not None and self.client.can_send_version("1.1"):
            version = "1.1"
            kwargs["expected_task_state"] = list(expected_task_state)
        return self.client.prepare(version=version).call(
            ctxt or nc_context.get_admin_context(), "instance_update", **kwargs)

    def get_instances_on_host(self, ctxt, host, uuids=(), timeout=None):
        """What the API knows of the instances of `host`: a list of dicts (uuid, name,
        host, project_id, vm_state, task_state, power_state) of its live instances,
        plus those of `uuids` wherever they are, deleted ones with vm_state 'deleted'.

        None if the API service is too old to answer (RPC 1.0). `timeout`: seconds to
        wait for the answer instead of rpc_response_timeout.
        """
        if not self.client.can_send_version("1.1"):
            return None
        return self.client.prepare(version="1.1", timeout=timeout).call(
            ctxt or nc_context.get_admin_context(), "get_instances_on_host", host=host,
            uuids=list(uuids))


class Heartbeat:
    """A service's periodic heartbeat to the API, for service.PeriodicTask:

        service.PeriodicTask(api_rpcapi.Heartbeat(CONF.host, "nova-consoleauth",
                                                  consoleauth.TOPIC).report,
                             CONF.report_interval)
    """

    def __init__(self, host, binary, topic, api=None):
        self.host = host
        self.binary = binary
        self.topic = topic
        self.api = api or APIReportsAPI()

    def report(self):
        self.api.service_heartbeat(None, host=self.host, binary=self.binary,
                                   topic=self.topic)
