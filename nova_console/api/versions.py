"""The version documents: what clients (python-novaclient, openstacksdk) read before
choosing a microversion. Served without authentication, as in Nova.

    GET /        {"versions": [<v2.1>]}
    GET /v2.1    {"version": <v2.1 with media-types>}   (also /v2.1/)
"""
import webob.dec

from nova_console.api import microversion
from nova_console.api import router
from nova_console.api import wsgi

VERSION_ID = "v2.1"
PREFIX = "/" + VERSION_ID
UPDATED = "2013-07-23T11:33:21Z"
MEDIA_TYPES = [{"base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1"}]

ROOT_SEGMENTS = []
VERSION_SEGMENTS = [VERSION_ID]


def is_version_path(path):
    return router.split_path(path) in (ROOT_SEGMENTS, VERSION_SEGMENTS)


def _version(base_url):
    return {"id": VERSION_ID, "status": "CURRENT", "version": microversion.MAX_VERSION,
            "min_version": microversion.MIN_VERSION, "updated": UPDATED,
            "links": [{"rel": "self", "href": "%s%s/" % (base_url, PREFIX)}]}


def versions_document(base_url):
    return {"versions": [_version(base_url)]}


def version_document(base_url):
    version = _version(base_url)
    version["links"].append({"rel": "describedby", "type": "text/html",
                             "href": "https://docs.openstack.org/"})
    version["media-types"] = MEDIA_TYPES
    return {"version": version}


class VersionsApp:
    """Answers GET on "/" and "/v2.1" (other paths never reach it)."""

    @webob.dec.wsgify
    def __call__(self, req):
        if req.method not in ("GET", "HEAD"):
            raise wsgi.MethodNotAllowed(method=req.method, allowed=("GET", "HEAD"))
        base_url = req.application_url
        if router.split_path(req.path_info) == ROOT_SEGMENTS:
            return wsgi.json_response(versions_document(base_url))
        return wsgi.json_response(version_document(base_url))
