"""Client side of the API service's RPC API: what compute hosts report."""
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
    """

    VERSION = "1.0"

    def __init__(self):
        target = messaging.Target(topic=api.TOPIC, version=self.VERSION)
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.api)

    def service_heartbeat(self, ctxt, host, binary):
        # cast: a heartbeat that is lost is replaced by the next one.
        self.client.prepare().cast(ctxt or nc_context.get_admin_context(),
                                   "service_heartbeat", host=host, binary=binary)

    def instance_update(self, ctxt, instance_uuid, values):
        # call: the compute host knows its report was stored (and a lost report
        # shows up as an error in its log, not as a server stuck in BUILD).
        return self.client.prepare().call(ctxt or nc_context.get_admin_context(),
                                          "instance_update", instance_uuid=instance_uuid,
                                          values=values)
