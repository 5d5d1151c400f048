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
- ``flavorRef`` and ``imageRef`` may be left out (Nova requires the flavor): the server
  gets the first of [api] flavors and of [api] images (api/catalog.py). A reference
  that is in neither list is a 400 worded as Nova's.
- One server per request: a min_count or max_count above 1 is a 400.
- The flavor a server shows (embedded from 2.47, as Nova) is read from [api] flavors;
  a server whose flavor was removed from there shows its original_name only.
"""
import datetime
import hashlib

from oslo_utils import strutils

from nova_console.api import auth
from nova_console.api import microversion
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import schemas
from nova_console.api import validation
from nova_console.api import wsgi
from nova_console import exception
from nova_console.compute import task_states
from nova_console.compute import vm_states

EMBEDDED_FLAVOR_MIN_VERSION = "2.47"
IMAGE_NOT_FOUND = "Can not find requested image"
FLAVOR_NOT_FOUND = "Flavor %s could not be found."    # GET /flavors/{id}: 404
INVALID_FLAVOR_REF = "Invalid flavorRef provided."  # server create: 400

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


def datetime_text(timestamp):
    """Nova's text of a database time (os-services updated_at, instance actions'
    start_time): UTC with microseconds and no zone, e.g. 2012-10-29T13:42:05.000000."""
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")


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


def embedded_flavor(flavor_ref, catalog):
    """The flavor a server shows from 2.47: what it was created with."""
    flavor = catalog.flavor(flavor_ref) if flavor_ref else None
    if flavor is None:
        return {"original_name": flavor_ref} if flavor_ref else {}
    return {"original_name": flavor.name, "vcpus": flavor.vcpus, "ram": flavor.ram,
            "disk": flavor.disk, "ephemeral": flavor.ephemeral, "swap": flavor.swap,
            "extra_specs": dict(flavor.extra_specs)}


def _flavor_view(req, instance, catalog):
    if microversion.is_supported(req, EMBEDDED_FLAVOR_MIN_VERSION):
        return embedded_flavor(instance["flavor_ref"], catalog)
    return _reference(req, "flavors", instance["flavor_ref"]) or {}


def detail_view(req, instance, show_host, catalog):
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
        "flavor": _flavor_view(req, instance, catalog),
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


def _boot_image_ref(server):
    """The image of a boot block device mapping (openstackclient names the image there
    too); None without one. Volumes are refused: there is no block storage here."""
    ref = None
    for mapping in server.get("block_device_mapping_v2", ()):
        if mapping.get("destination_type") == "volume" or mapping.get("source_type") in (
                "volume", "snapshot"):
            raise exception.Invalid(message="Block device mapping is invalid: volumes are "
                                            "not supported by this API.")
        if mapping.get("source_type") == "image" and str(mapping.get("boot_index")) == "0":
            ref = mapping.get("uuid")
    return ref


def _validate_create(req, body, catalog):
    """(name, image id, flavor id) of a valid create body; 400 as Nova words it."""
    server = validation.validate(req, body, schemas.SERVER_CREATE)["server"]
    for count in ("min_count", "max_count"):
        if int(server.get(count, 1)) > 1:
            raise validation.invalid_input(count, server[count], "Only one server can be "
                                           "created per request.")
    flavor_ref = server.get("flavorRef")
    flavor = catalog.flavor(flavor_ref) if flavor_ref is not None else catalog.default_flavor
    if flavor is None:
        raise exception.Invalid(message=INVALID_FLAVOR_REF)
    image_ref = server.get("imageRef") or _boot_image_ref(server)
    image = catalog.image(image_ref) if image_ref else catalog.default_image
    if image is None:
        raise exception.Invalid(message=IMAGE_NOT_FOUND)
    return server["name"], image.id, flavor.id


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
            detail_view(req, instance, self._may_see_host(context, instance),
                        self.compute_api.catalog)
            for instance in instances]})

    def show(self, req, server_id):
        context = auth.get_context(req)
        instance = self.compute_api.get(context, server_id)
        policy.authorize(context, policies.SERVERS_SHOW, {"project_id": instance["project_id"]})
        return wsgi.json_response({"server": detail_view(
            req, instance, self._may_see_host(context, instance), self.compute_api.catalog)})

    @staticmethod
    def _may_see_host(context, instance):
        return policy.check(context, policies.EXTENDED_SERVER_ATTRIBUTES,
                            {"project_id": instance["project_id"]})

    def create(self, req):
        context = auth.get_context(req)
        name, image_ref, flavor_ref = _validate_create(req, wsgi.read_json_body(req),
                                                       self.compute_api.catalog)
        policy.authorize(context, policies.SERVERS_CREATE, {"project_id": context.project_id})
        instance = self.compute_api.create(context, name, image_ref=image_ref,
                                           flavor_ref=flavor_ref)
        server_links = links(req, "servers", instance["uuid"])
        server = {"id": instance["uuid"], "links": server_links,
                  "OS-DCF:diskConfig": "MANUAL", "security_groups": [{"name": "default"}]}
        return wsgi.json_response({"server": server}, status=202,
                                  headers={"Location": server_links[0]["href"]})

    def reboot(self, req, server_id, body):
        """The 'reboot' server action: {"reboot": {"type": "HARD"|"SOFT"}} -> 202."""
        reboot_type = validation.validate(req, body, schemas.REBOOT)["reboot"]["type"].upper()
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
