"""GET /healthcheck on every console proxy's port, the XVP proxy's (a CONNECT front) too.

The answer is the API's (nova_console/health.py, oslo.middleware's Healthcheck): 200 "OK"
or 503, disable_by_file, and the message bus the proxy checks every token over. The
proxies have no user authentication, so the detailed view (why the bus is unavailable,
the process' threads) goes to clients in [healthcheck] proxy_detailed_source_ranges
(loopback by default), the simple view to everyone else.

It is a plain HTTP request of its own: a WebSocket upgrade or a CONNECT never reaches
it, and it touches no console session. The request handler (handler.py) gives it every
GET and HEAD first; answer() says whether it was one.
"""
import ipaddress
import threading
import urllib.parse

import webob

from nova_console import conf as nc_conf
from nova_console import health

CONF = nc_conf.CONF

CHECKS = (health.MessageBusHealthcheck,)

# Headers a reverse proxy adds: the request is not the proxy's own, whatever address
# it comes from.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
                      "X-Forwarded-Host", "X-Real-IP")

_ENDPOINT = None
_LOCK = threading.Lock()


def _not_found(environ, start_response):
    """Where a health check that oslo.middleware's own rules leave out ends: a proxy's
    404 (no body: clients of a proxy read any byte as console data)."""
    response = webob.Response(status=404)
    response.headers["Content-Length"] = "0"
    return response(environ, start_response)


def _address(text):
    address = ipaddress.ip_address(text.split("%", 1)[0])
    return getattr(address, "ipv4_mapped", None) or address


def detailed_view_rule(networks):
    """shows_details for clients in `networks` (CIDR strings; ValueError if one is not)."""
    try:
        networks = [ipaddress.ip_network(network, strict=False) for network in networks]
    except ValueError as exc:
        raise ValueError("[healthcheck] proxy_detailed_source_ranges: %s" % exc) from None

    def client_may_see_details(req):
        if any(header in req.headers for header in FORWARDING_HEADERS):
            return False  # a TLS terminator's clients come from its address, maybe loopback
        try:
            address = _address(req.remote_addr or "")
        except ValueError:
            return False
        return any(address.version == network.version and address in network
                   for network in networks)

    return client_may_see_details


def endpoint():
    """The process' health-check endpoint, made from CONF on first use (the proxy's
    server makes it at start, so that a wrong option stops the proxy there)."""
    global _ENDPOINT
    with _LOCK:
        if _ENDPOINT is None:
            shows_details = detailed_view_rule(CONF.healthcheck.proxy_detailed_source_ranges)
            _ENDPOINT = health.HealthcheckEndpoint(_not_found, CHECKS, shows_details)
        return _ENDPOINT


def reset():
    """Forget the endpoint and the probes' answers (tests)."""
    global _ENDPOINT
    with _LOCK:
        _ENDPOINT = None
    health.reset()


def _environ(request):
    """The WSGI environ of `request` (an http.server request handler)."""
    url = urllib.parse.urlsplit(request.path)
    host, port = request.server.address[:2]
    environ = {
        "REQUEST_METHOD": request.command, "PATH_INFO": url.path,
        "QUERY_STRING": url.query, "SERVER_NAME": str(host), "SERVER_PORT": str(port),
        "REMOTE_ADDR": request.client_address[0], "SERVER_PROTOCOL": request.request_version,
        "wsgi.url_scheme": "https" if hasattr(request.connection, "cipher") else "http",
    }
    for name in ("Accept", "Host") + FORWARDING_HEADERS:
        if request.headers.get(name):
            environ["HTTP_" + name.upper().replace("-", "_")] = request.headers[name]
    return environ


def answer(request):
    """Answer `request` (an http.server request handler) if it is a health check;
    False if it is not one (and nothing was sent)."""
    if urllib.parse.urlsplit(request.path).path not in (health.PATH, health.PATH + "/"):
        return False
    response = webob.Request.blank(request.path, environ=_environ(request)).get_response(
        endpoint())
    request.send_response(response.status_int, response.status.partition(" ")[2])
    for name, value in response.headerlist:
        request.send_header(name, value)
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(response.body)
    return True
