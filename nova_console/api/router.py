"""A small path router: templates such as "/v2.1/servers/{server_id}", per-method handlers,
optional microversion ranges; 404 for an unknown path (naming the resource when no route
knows its collection: a Nova API this project does not have), 405 (with Allow) for a
wrong method, 404 for a route outside its microversion range (as Nova).
"""
import webob.dec

from nova_console.api import microversion
from nova_console.api import wsgi
from nova_console import exception


class Route:

    def __init__(self, method, template, handler, min_version=None, max_version=None):
        self.method = method
        self.segments = template.strip("/").split("/")
        self.handler = handler
        self.min_version = microversion.APIVersion.parse(
            min_version or microversion.MIN_VERSION)
        self.max_version = microversion.APIVersion.parse(
            max_version or microversion.MAX_VERSION)

    def serves(self, version):
        return self.min_version <= version <= self.max_version

    def match(self, segments):
        """The path parameters when `segments` fit the template, else None."""
        if len(segments) != len(self.segments):
            return None
        params = {}
        for pattern, segment in zip(self.segments, segments, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment:
                    return None
                params[pattern[1:-1]] = segment
            elif pattern != segment:
                return None
        return params


def split_path(path):
    """Path segments; a trailing slash is ignored ("/v2.1/servers/" = "/v2.1/servers")."""
    return path.strip("/").split("/") if path.strip("/") else []


class Router:
    """Dispatches a request to the handler of the first route that fits it.

    A handler is called as handler(req, **path_params) and returns a webob Response;
    an expected error it raises (nova_console.exception) becomes a Nova-shaped error
    response here, so later middleware (microversion headers) still sees a response.
    """

    def __init__(self):
        self.routes = []

    def add(self, method, template, handler, min_version=None, max_version=None):
        self.routes.append(Route(method, template, handler, min_version, max_version))

    def find(self, method, path, version):
        segments = split_path(path)
        allowed = set()
        out_of_range = False
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if not route.serves(version):
                out_of_range = True
                continue
            if route.method != method:
                allowed.add(route.method)
                continue
            return route.handler, params
        if allowed:
            raise wsgi.MethodNotAllowed(method=method, allowed=allowed)
        if out_of_range:
            # Nova answers 404 when a route exists only in other microversions.
            raise exception.NotFound(
                message="API version %s is not supported on this method." % version)
        raise self._not_found(segments)

    def _not_found(self, segments):
        """404; it names the collection when no route has it (/v2.1/os-networks)."""
        prefixes = {tuple(route.segments[:2]) for route in self.routes}
        if (len(segments) >= 2 and tuple(segments[:2]) not in prefixes
                and any(prefix[0] == segments[0] for prefix in prefixes)):
            return exception.NotFound(
                message="The resource could not be found: this API does not provide %s "
                        "(it serves Nova's servers, flavors, images, os-services, "
                        "os-hypervisors and console calls)." % segments[1])
        return exception.NotFound(message="The resource could not be found.")

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            try:
                path = req.path_info
            except UnicodeDecodeError:
                raise exception.NotFound(message="The resource could not be found.") from None
            handler, params = self.find(req.method, path, microversion.get(req))
            return handler(req, **params)
        except Exception as exc:
            response = wsgi.exception_response(exc)
            if response is None:
                raise  # unexpected: the fault wrapper logs it and answers 500
            return response
