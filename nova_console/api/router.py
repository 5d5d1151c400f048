"""A small path router: templates such as "/v2.1/servers/{server_id}", per-method handlers,
optional minimum microversions; 404 for an unknown path, 405 (with Allow) for a wrong method.
"""
import webob.dec

from nova_console.api import microversion
from nova_console.api import wsgi
from nova_console import exception


class Route:

    def __init__(self, method, template, handler, min_version=None):
        self.method = method
        self.segments = template.strip("/").split("/")
        self.handler = handler
        self.min_version = (microversion.APIVersion.parse(min_version)
                            if min_version else None)

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

    def add(self, method, template, handler, min_version=None):
        self.routes.append(Route(method, template, handler, min_version))

    def find(self, method, path, version):
        segments = split_path(path)
        allowed = set()
        too_old = False
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.min_version is not None and version < route.min_version:
                too_old = True
                continue
            if route.method != method:
                allowed.add(route.method)
                continue
            return route.handler, params
        if allowed:
            raise wsgi.MethodNotAllowed(method=method, allowed=allowed)
        if too_old:
            # Nova answers 404 when a route exists only in later microversions.
            raise exception.NotFound(
                message="API version %s is not supported on this method." % version)
        raise exception.NotFound(message="The resource could not be found.")

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
