"""GET /v2.1/flavors, /flavors/detail, /flavors/{id}: the flavors of [api] flavors
(api/catalog.py), in Nova's shapes per microversion.

    index   {"flavors": [{"id", "name", "links"[, "description" (2.55)]}]}
    detail  {"flavors": [<flavor>]}      show  {"flavor": <flavor>}
    <flavor> = id, name, links, vcpus, ram, disk, OS-FLV-EXT-DATA:ephemeral,
               OS-FLV-DISABLED:disabled, os-flavor-access:is_public, rxtx_factor,
               swap ("" when 0 before 2.75, an integer from 2.75), description (2.55),
               extra_specs (2.61)

Every flavor is public and enabled; any caller may list them, as in Nova.
"""
from nova_console.api import microversion
from nova_console.api import servers
from nova_console.api import wsgi
from nova_console import exception

DESCRIPTION_MIN_VERSION = "2.55"
EXTRA_SPECS_MIN_VERSION = "2.61"
SWAP_INTEGER_MIN_VERSION = "2.75"


def basic_view(req, flavor):
    view = {"id": flavor.id, "name": flavor.name,
            "links": servers.links(req, "flavors", flavor.id)}
    if microversion.is_supported(req, DESCRIPTION_MIN_VERSION):
        view["description"] = flavor.description
    return view


def _swap(req, flavor):
    if flavor.swap == 0 and not microversion.is_supported(req, SWAP_INTEGER_MIN_VERSION):
        return ""
    return flavor.swap


def detail_view(req, flavor):
    view = basic_view(req, flavor)
    view.update({"vcpus": flavor.vcpus, "ram": flavor.ram, "disk": flavor.disk,
                 "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral,
                 "OS-FLV-DISABLED:disabled": False, "os-flavor-access:is_public": True,
                 "rxtx_factor": 1.0, "swap": _swap(req, flavor)})
    if microversion.is_supported(req, EXTRA_SPECS_MIN_VERSION):
        view["extra_specs"] = dict(flavor.extra_specs)
    return view


class FlavorsController:

    def __init__(self, catalog):
        self.catalog = catalog

    def index(self, req):
        return wsgi.json_response({"flavors": [basic_view(req, flavor)
                                               for flavor in self.catalog.flavors]})

    def detail(self, req):
        return wsgi.json_response({"flavors": [detail_view(req, flavor)
                                               for flavor in self.catalog.flavors]})

    def show(self, req, flavor_id):
        flavor = next((f for f in self.catalog.flavors if f.id == flavor_id), None)
        if flavor is None:
            raise exception.NotFound(message=servers.FLAVOR_NOT_FOUND % flavor_id)
        return wsgi.json_response({"flavor": detail_view(req, flavor)})
