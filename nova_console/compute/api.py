"""What the REST API does with servers and consoles (runs in nova-console-api).

Controllers translate HTTP to these calls; this module holds the rules:
tenancy, scheduling, state checks, the two RPC hops of a console request, the
instance actions a create, delete or reboot records (Nova's os-instance-actions,
with the API request's id) and the catalogue of flavors and images servers are
created from.
"""
import dataclasses
import time

import oslo_messaging as messaging
from oslo_log import log as logging
from oslo_utils import uuidutils

from nova_console.api import catalog as catalog_module
from nova_console.compute import manager as compute_manager
from nova_console.compute import rpcapi as compute_rpcapi
from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console.consoleauth import rpcapi as consoleauth_rpcapi
from nova_console.db import api as db
from nova_console import exception
from nova_console.compute import power_state
from nova_console.compute import task_states
from nova_console.compute import vm_states

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

# Task states a delete may interrupt (a second delete may not).
DELETABLE_TASK_STATES = (None, task_states.SPAWNING) + task_states.REBOOT_TASK_STATES
# Nova: a soft reboot only from no task; a hard one also over a reboot in progress.
REBOOTABLE_TASK_STATES = {
    "SOFT": (None,),
    "HARD": (None,) + task_states.REBOOT_TASK_STATES,
}
REBOOT_TASK_STATE = {"SOFT": task_states.REBOOTING,
                     "HARD": task_states.REBOOTING_HARD}
# The guest's log can be read while it runs and after it stopped (Nova allows both).
CONSOLE_OUTPUT_VM_STATES = (vm_states.ACTIVE, vm_states.STOPPED)

# Nova's instance action names (nova.compute.instance_actions).
ACTION_CREATE = "create"
ACTION_DELETE = "delete"
ACTION_REBOOT = "reboot"


class API:

    def __init__(self, compute_api=None, consoleauth_api=None, catalog=None):
        """`catalog` defaults to [api] flavors and images; CatalogConfigError when they
        do not parse (the API must not start then)."""
        self.compute_rpcapi = compute_api or compute_rpcapi.ComputeAPI()
        self.consoleauth_rpcapi = consoleauth_api or consoleauth_rpcapi.ConsoleAuthAPI()
        self.catalog = catalog or catalog_module.Catalog.from_conf(CONF)

    # --- servers ------------------------------------------------------------------

    def create(self, context, name, image_ref=None, flavor_ref=None):
        """Record the server, pick an up compute host and ask it to build (Nova: 202).

        With no host up the server still exists, in ERROR with a fault, as in Nova.
        """
        host = self._pick_host()
        values = {"uuid": uuidutils.generate_uuid(), "name": name,
                  "project_id": context.project_id, "user_id": context.user_id,
                  "image_ref": image_ref, "flavor_ref": flavor_ref, "host": host,
                  "vm_state": vm_states.BUILDING, "task_state": task_states.SPAWNING,
                  "power_state": power_state.NOSTATE}
        if host is None:
            values.update(vm_state=vm_states.ERROR, task_state=None,
                          fault=exception.NoValidHost(reason="No compute host is up.").message)
        instance = db.instance_create(values)
        record_action(context, instance, ACTION_CREATE)
        if host is not None:
            self.compute_rpcapi.build_and_run_instance(context, _rpc_view(instance))
        LOG.info("Server %s (%s) created on host %s", instance["uuid"], name, host)
        return instance

    def _pick_host(self):
        """The up compute host running the fewest live instances."""
        up_hosts = [service["host"] for service in self.up_compute_services()]
        if not up_hosts:
            return None
        return min(up_hosts, key=lambda host: (len(db.instance_get_all(host=host)), host))

    def up_compute_services(self):
        return [service for service in db.service_get_all(binary=compute_manager.BINARY)
                if service_is_up(service) and not service["disabled"]]

    # --- services, hypervisors, instance actions (the admin's view) -------------------

    def service_get_all(self, host=None, binary=None):
        """Every service that ever sent a heartbeat (compute hosts, consoleauth
        workers), first registered first."""
        return db.service_get_all(binary=binary, host=host)

    def compute_nodes(self):
        """The compute services, each with 'running_vms': its live instances."""
        nodes = []
        for service in db.service_get_all(binary=compute_manager.BINARY):
            nodes.append(dict(service, running_vms=len(db.instance_get_all(
                host=service["host"]))))
        return nodes

    def get_instance_actions(self, context, instance):
        """The actions recorded for a server, newest first."""
        return db.instance_actions_get(instance["uuid"])

    def get_instance_action(self, context, instance, request_id):
        """The action request `request_id` started on a server; InstanceActionNotFound
        if it started none."""
        action = db.instance_action_get_by_request_id(instance["uuid"], request_id)
        if action is None:
            raise exception.InstanceActionNotFound(request_id=request_id,
                                                   instance_uuid=instance["uuid"])
        return action

    def get(self, context, instance_uuid, read_deleted=False):
        """The server if the caller may see it (with `read_deleted`, also once deleted);
        InstanceNotFound otherwise (no leak of other tenants' server ids)."""
        instance = None
        if uuidutils.is_uuid_like(instance_uuid):
            instance = db.instance_get_by_uuid(instance_uuid, read_deleted=read_deleted)
        if instance is None or not _visible_to(context, instance):
            raise exception.InstanceNotFound(instance_id=instance_uuid)
        return instance

    def get_all(self, context, name=None, all_tenants=False):
        project_id = None if (context.is_admin and all_tenants) else context.project_id
        return db.instance_get_all(project_id=project_id, name=name)

    def delete(self, context, instance):
        """Revoke the server's console tokens, then have its host destroy it. A delete
        of a server already being deleted does nothing (Nova answers it 204 too)."""
        updated = db.instance_update(instance["uuid"], {"task_state": task_states.DELETING},
                                     expected_task_state=DELETABLE_TASK_STATES)
        if updated is None:
            current = db.instance_get_by_uuid(instance["uuid"])
            if current is None or current["task_state"] == task_states.DELETING:
                LOG.info("Server %s is already being deleted", instance["uuid"])
                return
            raise exception.InstanceInvalidState(
                action="delete", instance_uuid=instance["uuid"], attr="task_state",
                state=current["task_state"])
        record_action(context, instance, ACTION_DELETE)
        self.consoleauth_rpcapi.delete_tokens_for_instance(context, instance["uuid"])
        if updated["host"] is None or not self._host_is_up(updated["host"]):
            # Nobody can destroy it: delete the record locally, as Nova does.
            db.instance_destroy(instance["uuid"])
            LOG.info("Server %s deleted locally (its host is down or unset)", instance["uuid"])
            return
        self.compute_rpcapi.terminate_instance(context, _rpc_view(updated))

    def _host_is_up(self, host):
        return any(service["host"] == host for service in self.up_compute_services())

    def reboot(self, context, instance, reboot_type):
        """Mark the server rebooting and have its host reset it (Nova: 202, REBOOT or
        HARD_REBOOT until the host reports back). InstanceInvalidState (409) unless it
        is ACTIVE on a host, and not busy with another task."""
        if instance["vm_state"] != vm_states.ACTIVE or instance["host"] is None:
            raise exception.InstanceInvalidState(
                action="reboot", instance_uuid=instance["uuid"], attr="vm_state",
                state=instance["vm_state"])
        task_state = REBOOT_TASK_STATE[reboot_type]
        updated = db.instance_update(instance["uuid"], {"task_state": task_state},
                                     expected_task_state=REBOOTABLE_TASK_STATES[reboot_type])
        if updated is None:
            current = db.instance_get_by_uuid(instance["uuid"])
            if current is None:
                raise exception.InstanceNotFound(instance_id=instance["uuid"])
            raise exception.InstanceInvalidState(
                action="reboot", instance_uuid=instance["uuid"], attr="task_state",
                state=current["task_state"])
        try:
            self.compute_rpcapi.reboot_instance(context, _rpc_view(updated), reboot_type)
        except Exception:
            # The request did not go out: the server is not rebooting after all.
            db.instance_update(instance["uuid"], {"task_state": instance["task_state"]},
                               expected_task_state=(task_state,))
            raise
        record_action(context, instance, ACTION_REBOOT)
        LOG.info("Server %s: %s reboot requested", instance["uuid"], reboot_type.lower())
        return updated

    # --- consoles -----------------------------------------------------------------

    def get_console(self, context, instance, console_type):
        """A console URL: the instance's compute host gives the console server and a
        token (by the type's RPC method, console_types.py), consoleauth stores it."""
        _check_ready_for_console(instance)
        ask_host = getattr(self.compute_rpcapi, console_types.get(console_type).rpc_method)
        connect_info = self._call_compute(ask_host, context, instance, console_type)
        # The console of the instance asked about, whatever an older host said.
        connect_info = dataclasses.replace(connect_info, instance_uuid=instance["uuid"])
        self.consoleauth_rpcapi.authorize_console(context, connect_info)
        return {"type": console_type, "url": connect_info.access_url}

    def get_console_output(self, context, instance, length=None):
        """The last `length` lines (None: all) of what the guest wrote to its serial
        port. 409 unless the server is on a host, ACTIVE or SHUTOFF, and not being
        deleted; 501 if its host's driver cannot read it."""
        if (instance["vm_state"] not in CONSOLE_OUTPUT_VM_STATES or instance["host"] is None
                or instance["task_state"] == task_states.DELETING):
            raise exception.InstanceNotReady(instance_id=instance["uuid"])
        return self._call_compute(self.compute_rpcapi.get_console_output, context, instance,
                                  length)

    def _call_compute(self, method, context, instance, *args):
        try:
            return method(context, _rpc_view(instance), *args)
        except messaging.MessagingTimeout:
            LOG.warning("Compute host %s did not answer %s for %s in time",
                        instance["host"], method.__name__, instance["uuid"])
            raise exception.ComputeUnavailable(host=instance["host"])

    def get_console_connect_info(self, context, token):
        """Where a token leads (admin API); ConsoleTokenNotFound if it leads nowhere."""
        connect_info = self.consoleauth_rpcapi.check_token(context, token)
        if connect_info is None:
            raise exception.ConsoleTokenNotFound()
        return connect_info


def service_is_up(service):
    """Nova's rule: up if its last heartbeat is at most [DEFAULT] service_down_time old."""
    return service["last_seen_up"] >= time.time() - CONF.service_down_time


def record_action(context, instance, action):
    """Record that the caller's request (context.request_id) started `action`."""
    db.instance_action_create({"action": action, "instance_uuid": instance["uuid"],
                               "request_id": context.request_id,
                               "user_id": context.user_id or "",
                               "project_id": context.project_id or ""})


def _visible_to(context, instance):
    return context.is_admin or instance["project_id"] == context.project_id


def _check_ready_for_console(instance):
    """Consoles of ACTIVE servers only, as Nova; also while they reboot (the console
    shows the reboot), never while they are being deleted."""
    if instance["vm_state"] != vm_states.ACTIVE or instance["host"] is None:
        raise exception.InstanceNotReady(instance_id=instance["uuid"])
    if instance["task_state"] == task_states.DELETING:
        raise exception.InstanceInvalidState(
            action="get console", instance_uuid=instance["uuid"], attr="task_state",
            state=task_states.DELETING)


def _rpc_view(instance):
    """What a compute host needs to know of an instance."""
    return {"uuid": instance["uuid"], "name": instance["name"], "host": instance["host"],
            "project_id": instance["project_id"]}
