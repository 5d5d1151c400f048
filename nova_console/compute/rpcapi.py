"""Client side of the compute RPC API (one compute service per host: server=host)."""
import oslo_messaging as messaging

from nova_console import compute
from nova_console import conf as nc_conf
from nova_console import connect_info
from nova_console import exception
from nova_console import rpc

CONF = nc_conf.CONF


class ComputeAPI:
    """Client side of the compute RPC API.

    API version history:

        * 1.0 - Initial version: build_and_run_instance, terminate_instance,
                get_vnc_console, validate_console_port.
        * 1.1 - Add reboot_instance.
        * 1.1 - Add get_console_output.
        * 1.2 - Add get_spice_console, get_serial_console, get_mks_console.

    A client capped at 1.0 ([upgrade_levels] compute = 1.0, while some hosts still run
    1.0) sends the 1.0 methods as before and refuses the 1.1 ones with a readable error
    before anything is sent or changed.
    """

    VERSION = "1.2"

    def __init__(self):
        target = messaging.Target(topic=compute.TOPIC, version="1.0")
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.compute)

    def _prepare(self, instance, version="1.0"):
        return self.client.prepare(server=instance["host"], version=version)

    def _require(self, version, instance, what):
        """The version a new method needs, or a 501 naming what the cap prevents."""
        if not self.client.can_send_version(version):
            raise exception.NotImplementedByDriver(
                message="Cannot %s instance %s: compute RPC version %s is needed and "
                        "[upgrade_levels] compute caps it at %s."
                        % (what, instance["uuid"], version, CONF.upgrade_levels.compute))
        return version

    def build_and_run_instance(self, ctxt, instance):
        # cast: the API answers 202 at once; the host reports the outcome back.
        self._prepare(instance).cast(ctxt, "build_and_run_instance", instance=instance)

    def terminate_instance(self, ctxt, instance):
        self._prepare(instance).cast(ctxt, "terminate_instance", instance=instance)

    def reboot_instance(self, ctxt, instance, reboot_type):
        # cast, as Nova: the API answers 202 with task_state 'rebooting[_hard]'; the
        # host reports the outcome (task_state None) back.
        version = self._require("1.1", instance, "reboot")
        self._prepare(instance, version).cast(ctxt, "reboot_instance", instance=instance,
                                              reboot_type=reboot_type)

    def get_console_output(self, ctxt, instance, tail_length):
        version = self._require("1.1", instance, "get the console output of")
        return self._prepare(instance, version).call(ctxt, "get_console_output",
                                                     instance=instance,
                                                     tail_length=tail_length)

    def get_vnc_console(self, ctxt, instance, console_type):
        """The console's connect_info.ConnectInfo, with a new token and its URL."""
        return self._get_console(ctxt, instance, console_type, "get_vnc_console", "1.0")

    def get_spice_console(self, ctxt, instance, console_type):
        return self._get_console(ctxt, instance, console_type, "get_spice_console", "1.2")

    def get_serial_console(self, ctxt, instance, console_type):
        return self._get_console(ctxt, instance, console_type, "get_serial_console", "1.2")

    def get_mks_console(self, ctxt, instance, console_type):
        return self._get_console(ctxt, instance, console_type, "get_mks_console", "1.2")

    def _get_console(self, ctxt, instance, console_type, method, version):
        version = self._require(version, instance, "get a %s console of" % console_type)
        return connect_info.ConnectInfo.from_primitive(self._prepare(instance, version).call(
            ctxt, method, instance=instance, console_type=console_type))

    def validate_console_port(self, ctxt, instance, port, console_type, timeout=None):
        client = self._prepare(instance)
        if timeout is not None:
            client = client.prepare(timeout=timeout)
        return client.call(ctxt, "validate_console_port", instance=instance, port=port,
                           console_type=console_type)
