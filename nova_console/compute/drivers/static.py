"""The static compute driver: consoles of machines that nova_console does not run.

Some consoles belong to machines that no hypervisor of ours manages: a physical
server's BMC (KVM over IP speaks VNC), a VM run by another tool, lab equipment
behind a VNC gateway. With ``compute_driver = static`` a compute host hands such
consoles out exactly like an instance's, through the same API, tokens, proxy and
port validation:

* ``[static_consoles] endpoints`` names them, ``name:host:port`` each;
  ``serial_endpoints`` gives, by the same names, their serial consoles (raw TCP).
* Creating a server with one of those names *adopts* the console server: nothing
  is started, the build only checks that it accepts TCP connections. Any other
  name fails to build, with the reason in the server's fault.
* Deleting the server forgets the adoption; the machine itself is untouched.
* Adoptions are kept in ``$state_path/static_consoles-<host>.json``, so a restarted
  compute host still validates the console ports of the servers it adopted.
* ``validate_console_port`` answers from the configured list: a console removed
  from the list stops validating, so its tokens stop working at once.

The benchmark (``benchmarks/run.py``) uses it to point real console tokens at its
VNC server.
"""
import json
import os
import socket
import threading

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import base
from nova_console.compute import power_state

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)


def parse_endpoint(value):
    """A ConsoleEndpoint from 'host:port' or '[v6addr]:port'; ValueError if malformed."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("%r is not host:port" % value)
    return base.ConsoleEndpoint(host=host, port=int(port))


class StaticConsoleDriver(base.ComputeDriver):
    """'Instances' are console servers listed in [static_consoles] endpoints."""

    def __init__(self):
        self._lock = threading.Lock()
        self._adopted = {}  # instance uuid -> configured name
        self._state_file = None

    def init_host(self, host):
        self._state_file = os.path.join(CONF.state_path, "static_consoles-%s.json" % host)
        try:
            with open(self._state_file, encoding="utf-8") as state:
                self._adopted = dict(json.load(state))
        except FileNotFoundError:
            self._adopted = {}
        except (OSError, ValueError, TypeError) as exc:
            LOG.warning("Ignoring unreadable adoption file %s: %s", self._state_file, exc)
            self._adopted = {}
        LOG.info("Static console driver: %d configured console(s), %d adopted",
                 len(CONF.static_consoles.endpoints), len(self._adopted))

    @staticmethod
    def _endpoint_for_name(name, option="endpoints"):
        value = getattr(CONF.static_consoles, option).get(name)
        if value is None:
            return None
        try:
            return parse_endpoint(value)
        except ValueError as exc:
            raise exception.NovaConsoleException(
                "[static_consoles] %s entry %s is invalid: %s" % (option, name, exc))

    def _save(self):
        if self._state_file is None:
            return
        os.makedirs(os.path.dirname(self._state_file), exist_ok=True)
        temporary = self._state_file + ".tmp"
        with open(temporary, "w", encoding="utf-8") as state:
            json.dump(self._adopted, state)
        os.replace(temporary, self._state_file)

    def spawn(self, instance):
        endpoint = self._endpoint_for_name(instance["name"])
        if endpoint is None:
            raise exception.NovaConsoleException(
                "No console named %s in [static_consoles] endpoints of this host"
                % instance["name"])
        timeout = CONF.static_consoles.reachability_timeout
        if timeout:
            try:
                socket.create_connection((endpoint.host, endpoint.port), timeout=timeout).close()
            except OSError as exc:
                raise exception.NovaConsoleException(
                    "Console server %s:%s of %s is not reachable: %s"
                    % (endpoint.host, endpoint.port, instance["name"], exc))
        with self._lock:
            if instance["uuid"] in self._adopted:
                raise exception.Invalid(reason="instance %s is already adopted" % instance["uuid"])
            self._adopted[instance["uuid"]] = instance["name"]
            self._save()
        LOG.info("Adopted console server %s:%s as instance %s (%s)", endpoint.host,
                 endpoint.port, instance["uuid"], instance["name"])

    def destroy(self, instance):
        with self._lock:
            if self._adopted.pop(instance["uuid"], None) is not None:
                self._save()

    def list_instances(self):
        with self._lock:
            return list(self._adopted)

    def get_power_state(self, instance):
        self._name(instance)
        return power_state.RUNNING

    def get_vnc_console(self, instance):
        endpoint = self._endpoint_for_name(self._name(instance))
        if endpoint is None:  # removed from the configuration since it was adopted
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return endpoint

    def get_serial_console(self, instance):
        name = self._name(instance)
        endpoint = self._endpoint_for_name(name, "serial_endpoints")
        if endpoint is None:
            raise exception.ConsoleTypeUnavailable(
                "Unavailable console type serial: %s has no entry in [static_consoles] "
                "serial_endpoints." % name, console_type="serial")
        return endpoint

    def _name(self, instance):
        with self._lock:
            name = self._adopted.get(instance["uuid"])
        if name is None:
            raise exception.InstanceNotFound(instance_id=instance["uuid"])
        return name
