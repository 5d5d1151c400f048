"""Client side of the compute RPC API (one compute service per host: server=host)."""
import oslo_messaging as messaging

from nova_console import compute
from nova_console import conf as nc_conf
from nova_console import rpc

CONF = nc_conf.CONF


class ComputeAPI:
    """Client side of the compute RPC API.

    API version history:

        * 1.0 - Initial version: build_and_run_instance, terminate_instance,
                get_vnc_console, validate_console_port.
    """

    VERSION = "1.0"

    def __init__(self):
        target = messaging.Target(topic=compute.TOPIC, version=self.VERSION)
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.compute)

    def _prepare(self, instance):
        return self.client.prepare(server=instance["host"])

    def build_and_run_instance(self, ctxt, instance):
        # cast: the API answers 202 at once; the host reports the outcome back.
        self._prepare(instance).cast(ctxt, "build_and_run_instance", instance=instance)

    def terminate_instance(self, ctxt, instance):
        self._prepare(instance).cast(ctxt, "terminate_instance", instance=instance)

    def get_vnc_console(self, ctxt, instance, console_type):
        return self._prepare(instance).call(ctxt, "get_vnc_console", instance=instance,
                                            console_type=console_type)

    def validate_console_port(self, ctxt, instance, port, console_type):
        return self._prepare(instance).call(ctxt, "validate_console_port", instance=instance,
                                            port=port, console_type=console_type)
