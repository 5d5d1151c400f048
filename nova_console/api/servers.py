"""/v2.1/servers: create, list, show and delete servers, in Nova's JSON shapes, and the
server action that is not about consoles: reboot (POST /servers/{id}/action, which
consoles.ConsolesController.action dispatches here).

Differences from Nova, on purpose:
- ``?name=`` is an exact match (Nova treats it as a regular expression). An exact match
  uses the database index and cannot be turned into a slow regex by a caller; clients
  that look a server up by name (novaclient's find, openstackclient) compare names
  exactly anyway.
- The create answer has no ``adminPass``: no driver sets a guest password, and a
  password that opens nothing would mislead (Nova omits it too when
  enable_instance_password is off).
- ``image`` and ``flavor`` are references only ({"id", "links"}): we keep no image or
  flavor records, so there is nothing to embed (Nova embeds the flavor from 2.47 on).
"""
import datetime
import hashlib

from oslo_utils import strutils

from nova_console.api import auth
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import wsgi
from nova_console import exception
from nova_console.compute import task_states
from nova_console.compute import vm_states

NAME_MAX_LENGTH = 255
# Nova's reboot schema accepts these spellings.
REBOOT_TYPES = ("HARD", "Hard", "hard", "SOFT", "Soft", "soft")
CREATE_OPTIONAL_REFS = ("imageRef", "flavorRef")

# Nova's vm_state -> status ("deleting" is a task state: the server stays ACTIVE).
STATUS_BY_VM_STATE = {
    vm_states.ACTIVE: "ACTIVE",
    vm_states.BUILDING: "BUILD",
    vm_states.STOPPED: "SHUTOFF",
    vm_states.PAUSED: "PAUSED",
    vm_states.SUSPENDED: "SUSPENDED",
    vm_states.RESCUED: "RESCUE",
    vm_states.RESIZED: "VERIFY_RESIZE",
    vm_states.SOFT_DELETED: "SOFT_DELETED",
    vm_states.SHELVED: "SHELVED",
    vm_states.SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
    vm_states.ERROR: "ERROR",
    vm_states.DELETED: "DELETED",
}
# Nova's task_state -> status overrides of an ACTIVE server.
STATUS_BY_ACTIVE_TASK_STATE = {
    task_states.REBOOTING: "REBOOT",
    task_states.REBOOTING_HARD: "HARD_REBOOT",
}
PROGRESS_STATUSES = ("ACTIVE", "BUILD")
FAULT_STATUSES = ("ERROR", "DELETED")
BUILD_FAULT_CODE = 500


def status(instance):
    if (instance["vm_state"] == vm_states.ACTIVE
            and instance["task_state"] in STATUS_BY_ACTIVE_TASK_STATE):
        return STATUS_BY_ACTIVE_TASK_STATE[instance["task_state"]]
    return STATUS_BY_VM_STATE.get(instance["vm_state"], "UNKNOWN")


def isotime(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def host_id(instance):
    """Nova's hostId: the same for servers of one project on one host, opaque otherwise."""
    if not instance["host"]:
        return ""
    return hashlib.sha224((str(instance["project_id"]) + instance["host"])
                          .encode("utf-8")).hexdigest()


def links(req, collection, resource_id):
    base = req.application_url
    return [{"rel": "self", "href": "%s/v2.1/%s/%s" % (base, collection, resource_id)},
            {"rel": "bookmark", "href": "%s/%s/%s" % (base, collection, resource_id)}]


def _reference(req, collection, resource_id):
    if not resource_id:
        return ""
    return {"id": resource_id, "links": links(req, collection, resource_id)[1:]}


def basic_view(req, instance):
    return {"id": instance["uuid"], "name": instance["name"],
            "links": links(req, "servers", instance["uuid"])}


def detail_view(req, instance, show_host):
    updated_at = instance["updated_at"] or instance["created_at"]
    server = basic_view(req, instance)
    server.update({
        "status": status(instance),
        "tenant_id": instance["project_id"],
        "user_id": instance["user_id"],
        "created": isotime(instance["created_at"]),
        "updated": isotime(updated_at),
        "hostId": host_id(instance),
        "image": _reference(req, "images", instance["image_ref"]),
        "flavor": _reference(req, "flavors", instance["flavor_ref"]) or {},
        "addresses": {},
        "metadata": {},
        "accessIPv4": "",
        "accessIPv6": "",
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-STS:vm_state": instance["vm_state"],
        "OS-EXT-STS:task_state": instance["task_state"],
        "OS-EXT-STS:power_state": instance["power_state"],
    })
    if show_host:
        server["OS-EXT-SRV-ATTR:host"] = instance["host"]
    if server["status"] in PROGRESS_STATUSES:
        server["progress"] = 0
    if server["status"] in FAULT_STATUSES and instance["fault"]:
        server["fault"] = {"code": BUILD_FAULT_CODE, "message": instance["fault"],
                           "created": isotime(updated_at)}
    return server


def _validate_create(body):
    wsgi.check_object(body, None, required=("server",))
    server = wsgi.check_object(body["server"], "server", required=("name",))
    name = server["name"]
    if not isinstance(name, str):
        raise wsgi.invalid_input("name", name, "%r is not of type 'string'" % (name,))
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise wsgi.invalid_input("name", name, "The name must be 1 to %d characters long."
                                 % NAME_MAX_LENGTH)
    if name != name.strip() or not name.isprintable():
        raise wsgi.invalid_input("name", name, "The name must be printable characters and "
                                 "cannot start or end with whitespace.")
    refs = {}
    for key in CREATE_OPTIONAL_REFS:
        value = server.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not (isinstance(value, str) and
                                      0 < len(value) <= NAME_MAX_LENGTH):
            raise wsgi.invalid_input(key, value, "It must be a non-empty string of at most "
                                     "%d characters." % NAME_MAX_LENGTH)
        refs[key] = value
    return name, refs["imageRef"], refs["flavorRef"]


def _all_tenants(req):
    if "all_tenants" not in req.GET:
        return False
    try:
        return strutils.bool_from_string(req.GET["all_tenants"] or "true", strict=True)
    except ValueError:
        raise exception.Invalid(message="Invalid value '%s' for all_tenants: use true or "
                                        "false." % req.GET["all_tenants"]) from None


class ServersController:

    def __init__(self, compute_api):
        self.compute_api = compute_api

    def _list(self, req, rule, all_tenants_rule):
        context = auth.get_context(req)
        policy.authorize(context, rule, {"project_id": context.project_id})
        all_tenants = _all_tenants(req)
        if all_tenants:
            policy.authorize(context, all_tenants_rule, {"project_id": context.project_id})
        return self.compute_api.get_all(context, name=req.GET.get("name"),
                                        all_tenants=all_tenants)

    def index(self, req):
        instances = self._list(req, policies.SERVERS_INDEX, policies.SERVERS_INDEX_ALL_TENANTS)
        return wsgi.json_response({"servers": [basic_view(req, i) for i in instances]})

    def detail(self, req):
        instances = self._list(req, policies.SERVERS_DETAIL,
                               policies.SERVERS_DETAIL_ALL_TENANTS)
        context = auth.get_context(req)
        return wsgi.json_response({"servers": [
            detail_view(req, instance, self._may_see_host(context, instance))
            for instance in instances]})

    def show(self, req, server_id):
        context = auth.get_context(req)
        instance = self.compute_api.get(context, server_id)
        policy.authorize(context, policies.SERVERS_SHOW, {"project_id": instance["project_id"]})
        return wsgi.json_response({"server": detail_view(
            req, instance, self._may_see_host(context, instance))})

    @staticmethod
    def _may_see_host(context, instance):
        return policy.check(context, policies.EXTENDED_SERVER_ATTRIBUTES,
                            {"project_id": instance["project_id"]})

    def create(self, req):
        context = auth.get_context(req)
        name, image_ref, flavor_ref = _validate_create(wsgi.read_json_body(req))
        policy.authorize(context, policies.SERVERS_CREATE, {"project_id": context.project_id})
        instance = self.compute_api.create(context, name, image_ref=image_ref,
                                           flavor_ref=flavor_ref)
        server_links = links(req, "servers", instance["uuid"])
        server = {"id": instance["uuid"], "links": server_links,
                  "OS-DCF:diskConfig": "MANUAL", "security_groups": [{"name": "default"}]}
        return wsgi.json_response({"server": server}, status=202,
                                  headers={"Location": server_links[0]["href"]})

    def reboot(self, req, server_id, argument):
        """The 'reboot' server action: {"reboot": {"type": "HARD"|"SOFT"}} -> 202."""
        wsgi.check_object(argument, "reboot", required=("type",), allowed=("type",))
        reboot_type = wsgi.check_enum(argument["type"], "type", REBOOT_TYPES).upper()
        context = auth.get_context(req)
        instance = self.compute_api.get(context, server_id)
        policy.authorize(context, policies.SERVERS_REBOOT, {"project_id": instance["project_id"]})
        self.compute_api.reboot(context, instance, reboot_type)
        return wsgi.empty_response(202)

    def delete(self, req, server_id):
        context = auth.get_context(req)
        instance = self.compute_api.get(context, server_id)
        policy.authorize(context, policies.SERVERS_DELETE,
                         {"project_id": instance["project_id"]})
        self.compute_api.delete(context, instance)
        return wsgi.empty_response(204)
