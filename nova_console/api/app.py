"""The WSGI application of nova-console-api.

A request passes, outermost first:

    RequestIdMiddleware   req-<uuid> in the environ and in the response headers
    FaultWrapper          any error left unanswered -> Nova-shaped JSON; never a traceback
    HTTPProxyToWSGI       with [oslo_middleware] enable_proxy_headers_parsing: scheme and
                          host from Forwarded / X-Forwarded-*, so links name the public URL
    /healthcheck          answered here, before authentication (api/health.py)
    BodySizeLimit         bodies over [api] max_request_body_size -> 413
    version documents     GET / and /v2.1 answered here, without authentication
    auth ([api] auth_strategy)  the caller's RequestContext, or 401
    MicroversionMiddleware      the requested microversion (400/406), echoed in headers
    Router                the route table below; 404 / 405 otherwise

Routes (all under /v2.1, a trailing slash is ignored):

    GET    /                                    versions.VersionsApp (no auth)
    GET    /v2.1                                versions.VersionsApp (no auth)
    GET    /v2.1/servers                        servers.index
    POST   /v2.1/servers                        servers.create
    GET    /v2.1/servers/detail                 servers.detail
    GET    /v2.1/servers/{server_id}            servers.show
    DELETE /v2.1/servers/{server_id}            servers.delete
    POST   /v2.1/servers/{server_id}/action     consoles.action
    POST   /v2.1/servers/{server_id}/remote-consoles   consoles.create_remote_console (2.6)
    GET    /v2.1/servers/{server_id}/os-instance-actions               instance_actions.index
    GET    /v2.1/servers/{server_id}/os-instance-actions/{request_id}  instance_actions.show
    GET    /v2.1/os-console-auth-tokens/{token} console_auth_tokens.show
    GET    /v2.1/flavors, /flavors/detail, /flavors/{flavor_id}        flavors.*
    GET    /v2.1/images, /images/detail, /images/{image_id}            images.* (to 2.35)
    GET    /v2.1/os-services                    services.index
    GET    /v2.1/os-hypervisors, /os-hypervisors/detail, /os-hypervisors/{id}  hypervisors.*

Request bodies are checked by validation.py against schemas.py (Nova's schemas per
microversion); flavors and images are [api] flavors / images (catalog.py), which
build_router parses: catalog.CatalogConfigError when they do not.
"""
import time

import webob.dec
from oslo_log import log as logging
from oslo_middleware import http_proxy_to_wsgi
from oslo_utils import uuidutils

from nova_console.api import auth
from nova_console.api import catalog as catalog_module
from nova_console.api import console_auth_tokens
from nova_console.api import consoles
from nova_console.api import flavors
from nova_console.api import hypervisors
from nova_console.api import images
from nova_console.api import instance_actions
from nova_console.api import health as api_health
from nova_console.api import microversion
from nova_console.api import router
from nova_console.api import servers
from nova_console.api import services
from nova_console.api import versions
from nova_console.api import wsgi
from nova_console import conf as nc_conf
from nova_console import console_types
from nova_console import exception
from nova_console import utils

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

REQUEST_ID_HEADERS = ("X-OpenStack-Request-ID", "x-compute-request-id")
TOKEN_COLLECTION = "os-console-auth-tokens"


def build_router(compute_api):
    """The route table above. CatalogConfigError (api/catalog.py) when [api] flavors or
    images do not parse: the API must not start with a catalogue it cannot serve."""
    catalog = getattr(compute_api, "catalog", None) or catalog_module.Catalog.from_conf(CONF)
    servers_controller = servers.ServersController(compute_api)
    consoles_controller = consoles.ConsolesController(compute_api)
    tokens_controller = console_auth_tokens.ConsoleAuthTokensController(compute_api)
    actions_controller = instance_actions.InstanceActionsController(compute_api)
    table = router.Router()
    prefix = versions.PREFIX
    table.add("GET", prefix + "/servers", servers_controller.index)
    table.add("POST", prefix + "/servers", servers_controller.create)
    table.add("GET", prefix + "/servers/detail", servers_controller.detail)
    table.add("GET", prefix + "/servers/{server_id}", servers_controller.show)
    table.add("DELETE", prefix + "/servers/{server_id}", servers_controller.delete)
    table.add("POST", prefix + "/servers/{server_id}/action", consoles_controller.action)
    table.add("POST", prefix + "/servers/{server_id}/remote-consoles",
              consoles_controller.create_remote_console,
              min_version=console_types.REMOTE_CONSOLES_MIN_VERSION)
    table.add("GET", prefix + "/servers/{server_id}/os-instance-actions",
              actions_controller.index)
    table.add("GET", prefix + "/servers/{server_id}/os-instance-actions/{request_id}",
              actions_controller.show)
    table.add("GET", prefix + "/%s/{token}" % TOKEN_COLLECTION, tokens_controller.show)
    for collection, controller, id_name, max_version in (
            ("flavors", flavors.FlavorsController(catalog), "flavor_id", None),
            ("images", images.ImagesController(catalog), "image_id", images.PROXY_MAX_VERSION),
            ("os-hypervisors", hypervisors.HypervisorsController(compute_api),
             "hypervisor_id", None)):
        table.add("GET", prefix + "/" + collection, controller.index, max_version=max_version)
        table.add("GET", prefix + "/%s/detail" % collection, controller.detail,
                  max_version=max_version)
        table.add("GET", prefix + "/%s/{%s}" % (collection, id_name), controller.show,
                  max_version=max_version)
    table.add("GET", prefix + "/os-services", services.ServicesController(compute_api).index)
    return table


def loggable_path(req):
    """The request path as it may be logged: undecoded (a path that is not UTF-8 must
    not break the log line), and with whatever follows a console-token collection
    masked, however the path is spelled."""
    path = req.environ.get("SCRIPT_NAME", "") + req.environ.get("PATH_INFO", "")
    segments = path.split("/")
    for index in range(1, len(segments)):
        if segments[index - 1] == TOKEN_COLLECTION and segments[index]:
            segments[index] = utils.mask_token(segments[index])
    return "/".join(segments)


def _request_id_from_header(value):
    """An inbound X-OpenStack-Request-ID kept as the global request id when well formed."""
    if value and value.startswith("req-") and uuidutils.is_uuid_like(value[4:]):
        return value
    return None


class RequestIdMiddleware:
    """Gives every request an id (Nova's req-<uuid>), returns it in both of Nova's headers
    and writes one access log line per request."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        request_id = "req-" + uuidutils.generate_uuid()
        req.environ[auth.ENV_REQUEST_ID] = request_id
        global_request_id = _request_id_from_header(req.headers.get(REQUEST_ID_HEADERS[0]))
        if global_request_id:
            req.environ[auth.ENV_GLOBAL_REQUEST_ID] = global_request_id
        started = time.monotonic()
        response = req.get_response(self.application)
        for header in REQUEST_ID_HEADERS:
            response.headers[header] = request_id
        LOG.info('%s "%s %s" status: %s len: %s time: %.4f', request_id, req.method,
                 loggable_path(req), response.status_int, response.content_length or 0,
                 time.monotonic() - started)
        return response


class FaultWrapper:
    """The last line of defence: expected errors get their Nova-shaped answer, anything
    else is logged with its traceback and answered 500 computeFault."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            return req.get_response(self.application)
        except Exception as exc:
            response = wsgi.exception_response(exc)
            if response is not None:
                return response
            request_id = req.environ.get(auth.ENV_REQUEST_ID)
            LOG.exception("%s: unexpected error in %s %s", request_id, req.method,
                          loggable_path(req))
            return wsgi.fault_response(
                500, "Unexpected API Error. Please report it to the operator with the "
                     "request id %s." % request_id)


class BodySizeLimit:
    """Refuses bodies over [api] max_request_body_size (413), declared or streamed."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        limit = CONF.api.max_request_body_size
        declared = req.environ.get("CONTENT_LENGTH")
        if declared:
            try:
                declared = int(declared)
            except ValueError:
                declared = -1
            if declared < 0:
                raise exception.Invalid(message="Invalid Content-Length header.")
            if declared > limit:
                raise wsgi.RequestTooLarge()
        elif req.is_body_readable:
            body = req.body_file_raw.read(limit + 1)
            if len(body) > limit:
                raise wsgi.RequestTooLarge()
            req.body = body
        return req.get_response(self.application)


class VersionDocuments:
    """Sends the version-document paths to `versions_app`, everything else to `api_app`."""

    def __init__(self, versions_app, api_app):
        self.versions_app = versions_app
        self.api_app = api_app

    def __call__(self, environ, start_response):
        if versions.is_version_path(environ.get("PATH_INFO", "")):
            return self.versions_app(environ, start_response)
        return self.api_app(environ, start_response)


def make_app(compute_api=None):
    """The WSGI callable of the REST API; `compute_api` defaults to the real one (RPC)."""
    if compute_api is None:
        from nova_console.compute import api as compute_api_module
        compute_api = compute_api_module.API()
    api = microversion.MicroversionMiddleware(build_router(compute_api))
    api = auth.auth_middleware(CONF.api.auth_strategy)(api)
    application = VersionDocuments(versions.VersionsApp(), api)
    application = BodySizeLimit(application)
    application = api_health.healthcheck_middleware(application)
    application = http_proxy_to_wsgi.HTTPProxyToWSGI(application, CONF)
    application = FaultWrapper(application)
    return RequestIdMiddleware(application)
