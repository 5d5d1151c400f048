"""GET /v2.1/os-services: the services and whether they are up (admin only).

    -> 200 {"services": [{"id", "binary", "host", "zone", "status", "state",
                          "updated_at", "disabled_reason"[, "forced_down" (2.11)]}]}

A service is what sends heartbeats: compute hosts (nova-console-compute, zone "nova"
as Nova's compute services) and consoleauth workers (nova-consoleauth, zone
"internal", as Nova listed it). state is "up" while its last heartbeat is at most
[DEFAULT] service_down_time seconds old. ?host= and ?binary= filter exactly. ids are
integers, uuids from 2.53 (Nova's). Disabling and forcing down (PUT) are not offered:
status is "enabled" unless an operator disabled the row, forced_down is false.
"""
from nova_console.api import auth
from nova_console.api import microversion
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import servers
from nova_console.api import wsgi
from nova_console.compute import api as compute_api
from nova_console.compute import manager as compute_manager

FORCED_DOWN_MIN_VERSION = "2.11"
UUID_IDS_MIN_VERSION = "2.53"
# Nova's zones: compute services are in the default availability zone.
COMPUTE_ZONE = "nova"
INTERNAL_ZONE = "internal"


def service_id(req, service):
    """The id the API shows: the row's integer id, or from 2.53 its uuid."""
    if microversion.is_supported(req, UUID_IDS_MIN_VERSION):
        return service["uuid"]
    return service["id"]


def state(service):
    return "up" if compute_api.service_is_up(service) else "down"


def status(service):
    return "disabled" if service["disabled"] else "enabled"


def service_view(req, service):
    view = {"id": service_id(req, service), "binary": service["binary"],
            "host": service["host"],
            "zone": COMPUTE_ZONE if service["binary"] == compute_manager.BINARY
            else INTERNAL_ZONE,
            "status": status(service), "state": state(service),
            "updated_at": servers.datetime_text(service["last_seen_up"]),
            "disabled_reason": None}
    if microversion.is_supported(req, FORCED_DOWN_MIN_VERSION):
        view["forced_down"] = False
    return view


class ServicesController:

    def __init__(self, compute_api):
        self.compute_api = compute_api

    def index(self, req):
        context = auth.get_context(req)
        policy.authorize(context, policies.SERVICES_LIST, {"project_id": context.project_id})
        found = self.compute_api.service_get_all(host=req.GET.get("host"),
                                                 binary=req.GET.get("binary"))
        return wsgi.json_response({"services": [service_view(req, s) for s in found]})
