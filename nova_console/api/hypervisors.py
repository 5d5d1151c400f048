"""GET /v2.1/os-hypervisors, /os-hypervisors/detail, /os-hypervisors/{id} (admin only):
one hypervisor per compute host, in Nova's shapes.

    -> {"hypervisors": [{"id", "hypervisor_hostname", "state", "status"}]}
       detail and show add hypervisor_type (the host's compute driver, from its
       heartbeat), hypervisor_version, host_ip and service {host, id,
       disabled_reason}; below 2.88 also Nova's capacity fields.

ids are the compute service's (integers, uuids from 2.53, as Nova's). What is not
known is said so: the drivers report no capacity, version or address, so vcpus,
memory_mb, local_gb and their _used/free_ figures are 0, hypervisor_version and
host_ip null; running_vms counts the host's live servers.
"""
from oslo_utils import uuidutils

from nova_console.api import auth
from nova_console.api import microversion
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import services
from nova_console.api import wsgi
from nova_console import exception

NO_CAPACITY_MIN_VERSION = "2.88"  # Nova dropped the capacity fields
CPU_INFO_OBJECT_MIN_VERSION = "2.28"
ZERO_CAPACITY_FIELDS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
                        "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload")


class HypervisorNotFound(exception.NotFound):
    msg_fmt = "Hypervisor with ID '%(hypervisor_id)s' could not be found."


def basic_view(req, node):
    return {"id": services.service_id(req, node), "hypervisor_hostname": node["host"],
            "state": services.state(node), "status": services.status(node)}


def detail_view(req, node):
    view = basic_view(req, node)
    view.update({"hypervisor_type": node["hypervisor_type"], "hypervisor_version": None,
                 "host_ip": None,
                 "service": {"host": node["host"], "id": services.service_id(req, node),
                             "disabled_reason": None}})
    if not microversion.is_supported(req, NO_CAPACITY_MIN_VERSION):
        view.update(dict.fromkeys(ZERO_CAPACITY_FIELDS, 0))
        view.update(running_vms=node["running_vms"], disk_available_least=None,
                    cpu_info={} if microversion.is_supported(
                        req, CPU_INFO_OBJECT_MIN_VERSION) else "{}")
    return view


class HypervisorsController:

    def __init__(self, compute_api):
        self.compute_api = compute_api

    def _nodes(self, req, rule):
        context = auth.get_context(req)
        policy.authorize(context, rule, {"project_id": context.project_id})
        return self.compute_api.compute_nodes()

    def index(self, req):
        nodes = self._nodes(req, policies.HYPERVISORS_LIST)
        return wsgi.json_response({"hypervisors": [basic_view(req, n) for n in nodes]})

    def detail(self, req):
        nodes = self._nodes(req, policies.HYPERVISORS_LIST_DETAIL)
        return wsgi.json_response({"hypervisors": [detail_view(req, n) for n in nodes]})

    def show(self, req, hypervisor_id):
        nodes = self._nodes(req, policies.HYPERVISORS_SHOW)
        if (microversion.is_supported(req, services.UUID_IDS_MIN_VERSION)
                and not uuidutils.is_uuid_like(hypervisor_id)):
            raise exception.Invalid(message="Invalid uuid %s" % hypervisor_id)
        for node in nodes:
            if str(services.service_id(req, node)) == hypervisor_id:
                return wsgi.json_response({"hypervisor": detail_view(req, node)})
        raise HypervisorNotFound(hypervisor_id=hypervisor_id)
