"""nova-console-compute: runs the instances of one host through its driver.

It answers console requests for them and reports their state to the API over
RPC; a compute host never holds database credentials.
"""
import urllib.parse

import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console.api import rpcapi as api_rpcapi
from nova_console.compute.drivers import base
from nova_console import conf as nc_conf
from nova_console import exception
from nova_console import utils

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

BINARY = "nova-console-compute"
VNC_CONSOLE_TYPES = ("novnc",)


def novnc_access_url(base_url, token):
    """Nova's rule: the token goes, as '?token=...', into noVNC's 'path' parameter,
    added to whatever query the base URL already has."""
    parts = urllib.parse.urlsplit(base_url)
    token_query = urllib.parse.urlencode({"path": "?token=%s" % token})
    query = "%s&%s" % (parts.query, token_query) if parts.query else token_query
    return urllib.parse.urlunsplit(parts._replace(query=query))


class ComputeManager:
    target = messaging.Target(version="1.0")

    def __init__(self, host, driver, api=None):
        self.host = host
        self.driver = driver
        self.api = api or api_rpcapi.APIReportsAPI()

    def init_host(self):
        self.driver.init_host(self.host)

    def cleanup_host(self):
        self.driver.cleanup_host(self.host)

    def report_heartbeat(self):
        """Periodic task: tell the API this host is up."""
        self.api.service_heartbeat(None, host=self.host, binary=BINARY)

    def _report(self, context, instance, **values):
        self.api.instance_update(context, instance_uuid=instance["uuid"], values=values)

    def build_and_run_instance(self, context, instance):
        LOG.info("Building instance %s (%s)", instance["uuid"], instance.get("name"))
        try:
            self.driver.spawn(instance)
        except Exception as exc:
            LOG.exception("Build of instance %s failed", instance["uuid"])
            self._destroy_quietly(instance)
            self._report(context, instance, vm_state="error", task_state=None,
                         power_state=base.NOSTATE, fault=_describe(exc))
            return
        self._report(context, instance, vm_state="active", task_state=None,
                     power_state=self.driver.get_power_state(instance))

    def terminate_instance(self, context, instance):
        LOG.info("Terminating instance %s", instance["uuid"])
        try:
            self.driver.destroy(instance)
        except Exception as exc:
            LOG.exception("Destroy of instance %s failed", instance["uuid"])
            self._report(context, instance, vm_state="error", task_state=None,
                         fault=_describe(exc))
            return
        self._report(context, instance, vm_state="deleted", task_state=None,
                     power_state=base.NOSTATE)

    def _destroy_quietly(self, instance):
        try:
            self.driver.destroy(instance)
        except Exception:
            LOG.exception("Clean-up of instance %s failed", instance["uuid"])

    def get_vnc_console(self, context, instance, console_type):
        """Connection details and a fresh token for the instance's VNC console."""
        if not CONF.vnc.enabled:
            raise exception.ConsoleTypeUnavailable(console_type=console_type)
        if console_type not in VNC_CONSOLE_TYPES:
            raise exception.ConsoleTypeInvalid(console_type=console_type)
        endpoint = self.driver.get_vnc_console(instance)
        token = utils.generate_token()
        access_url_base = CONF.vnc.novncproxy_base_url
        return {"console_type": console_type, "host": endpoint.host, "port": endpoint.port,
                "tls_port": endpoint.tls_port,
                "internal_access_path": endpoint.internal_access_path, "token": token,
                "access_url_base": access_url_base,
                "access_url": novnc_access_url(access_url_base, token)}

    def validate_console_port(self, context, instance, port, console_type):
        """True only if `port` is, right now, the console of this instance."""
        if console_type not in VNC_CONSOLE_TYPES:
            return False
        try:
            endpoint = self.driver.get_vnc_console(instance)
        except (exception.InstanceNotFound, exception.NotImplementedByDriver):
            return False
        return endpoint.port == int(port)


def _describe(exc):
    if isinstance(exc, exception.NovaConsoleException):
        return exc.message
    return "%s: %s" % (exc.__class__.__name__, exc)
