"""Opening the target of a console request: the same steps for every front.

A front (fronts.py) hands over a request it accepts the form of; these steps, in
this order, then find the console it may reach and connect to it, so that no
byte reaches a console server before the token was checked:

  1. check_origin          the Origin host is ours or allowed       ORIGIN_NOT_ALLOWED
  2. find_token            ?token=, noVNC's ?path=?token=, cookie   MISSING_TOKEN
  3. check_token           consoleauth knows the token              INVALID_TOKEN,
                                                                    AUTH_UNAVAILABLE
  4. check_console_type    the token is for this proxy's console    WRONG_CONSOLE_TYPE
  5. check_origin_scheme   the Origin's scheme is the console URL's ORIGIN_NOT_ALLOWED
  6. authenticate          an integrator's websockify auth plugin   AUTHENTICATION_FAILED
  7. connect_backend       TCP to the console server                BACKEND_UNREACHABLE,
                                                                    BACKEND_TIMEOUT
  8. handshake_backend     CONNECT internal_access_path, if set     BACKEND_REFUSED

A step that says no raises Refusal with a kind; each front answers a kind with
its own HTTP status (a noVNC client gets 403 for a bad token, a Java viewer 401,
as Nova's proxies did). Origin rules apply whenever a client sends Origin:
browsers always do, other clients (no cross-site risk) need not.
"""
import http
import http.cookies
import urllib.parse

# Green sockets whether or not the process is monkey-patched (see concurrency.py).
from eventlet.green import socket
import oslo_messaging as messaging
from websockify import auth_plugins

from nova_console.console import buffers
from nova_console.console import concurrency
from nova_console import context as nc_context
from nova_console import utils

# Refusal kinds.
BAD_REQUEST = "bad request"
NOT_FOUND = "not found"
METHOD_NOT_ALLOWED = "method not allowed"
ORIGIN_NOT_ALLOWED = "origin not allowed"
MISSING_TOKEN = "missing token"
INVALID_TOKEN = "invalid token"
WRONG_CONSOLE_TYPE = "wrong console type"
AUTH_UNAVAILABLE = "authorization unavailable"
AUTHENTICATION_FAILED = "authentication failed"
BACKEND_UNREACHABLE = "console server unreachable"
BACKEND_TIMEOUT = "console server timeout"
BACKEND_REFUSED = "console server refused"
NEGOTIATION_FAILED = "negotiation failed"
CLIENT_LEFT = "client left"

# Tokens are 32 characters; anything much longer is not worth an RPC.
MAX_TOKEN_LENGTH = 255

# Longest answer to the CONNECT handshake read from a console server.
MAX_BACKEND_HANDSHAKE_BYTES = 8192

# Headers websockify's ClientCertCNAuth trusts to carry a verified TLS client
# certificate's name: a client must not be able to send them itself.
_SERVER_SET_HEADERS = ("SSL_CLIENT_S_DN_CN",)


class Refusal(Exception):
    """A console request the proxy refuses.

    kind: one of the kinds above (the front maps it to a status); reason: what
    the client is told; detail: only for the log; status and headers: set when
    the refusal brings its own (an auth plugin's 401 and WWW-Authenticate).
    """

    def __init__(self, kind, reason, detail=None, status=None, headers=None):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.detail = detail
        self.status = status
        self.headers = headers or {}

    @property
    def server_side(self):
        """True for refusals that are not the client's fault (worth a warning)."""
        return self.kind in (AUTH_UNAVAILABLE, BACKEND_UNREACHABLE, BACKEND_TIMEOUT,
                             BACKEND_REFUSED)


def _hostname(authority):
    """Lower-case host name of "host", "host:port" or "[v6addr]:port"; None if
    there is none."""
    if not authority:
        return None
    try:
        return urllib.parse.urlsplit("//" + authority.strip()).hostname
    except ValueError:
        return None


def _http_scheme(scheme):
    """The HTTP scheme with the same security as a WebSocket or HTTP scheme."""
    scheme = (scheme or "").lower()
    return {"ws": "http", "wss": "https"}.get(scheme, scheme)


class TargetOpener:
    """Runs the steps for one request of a proxy: open() returns the connected
    console server's socket, or raises Refusal.

    request: has `path` (the request target) and `headers`; settings: the
    proxy's settings.ProxySettings; session: the events.Session to fill in
    (token mask, where the token leads) as the steps learn it.
    """

    def __init__(self, request, settings, token_checker, session):
        self.request = request
        self.settings = settings
        self.token_checker = token_checker
        self.session = session
        self.connect_info = None

    def open(self):
        origin = self.check_origin()
        token = self.find_token()
        self.connect_info = self.check_token(token)
        self.session.describe_target(self.connect_info)
        self.check_console_type()
        self.check_origin_scheme(origin)
        self.authenticate()
        backend = self.connect_backend()
        try:
            self.handshake_backend(backend)
        except BaseException:
            buffers.shutdown_quietly(backend)
            backend.close()
            raise
        return backend

    # 1 ----------------------------------------------------------------------------------

    def allowed_origin_hosts(self):
        """Host names a request may come from: the one the client asked for (Host)
        and the configured allowed_origins. Built afresh for every request."""
        allowed = {_hostname(entry) for entry in self.settings.allowed_origins}
        allowed.add(_hostname(self.request.headers.get("Host")))
        allowed.discard(None)
        return allowed

    def check_origin(self):
        """(scheme, hostname) of the Origin header, or None if there is none."""
        origins = self.request.headers.get_all("Origin") or []
        if not origins:
            return None
        if len(origins) > 1:
            raise Refusal(ORIGIN_NOT_ALLOWED, "more than one Origin header")
        try:
            parsed = urllib.parse.urlsplit(origins[0].strip())
            hostname = parsed.hostname
        except ValueError:
            hostname = None
        if not hostname or parsed.scheme.lower() not in ("http", "https"):
            raise Refusal(ORIGIN_NOT_ALLOWED, "invalid Origin header",
                          "origin %r" % origins[0][:100])
        if hostname not in self.allowed_origin_hosts():
            raise Refusal(ORIGIN_NOT_ALLOWED, "origin not allowed",
                          "origin host %r" % hostname[:100])
        return parsed.scheme.lower(), hostname

    # 2 ----------------------------------------------------------------------------------

    def find_token(self):
        """The token from the URL (?token= or noVNC's ?path=?token=), else from the
        'token' cookie.

        URL tokens that disagree are refused, and so is a URL token that disagrees
        with the cookie on a proxy whose clients send the token as a cookie
        (settings.token_cookie: spice-html5). Elsewhere the URL wins over the
        cookie, which may be left over from another console of the same host
        (spice-html5 sets it for a day, and cookies do not depend on the port)."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.request.path).query)
        in_url = list(query.get("token", []))
        for inner_path in query.get("path", []):
            inner_query = urllib.parse.urlsplit(inner_path).query
            in_url.extend(urllib.parse.parse_qs(inner_query).get("token", []))
        in_url = set(filter(None, in_url))
        cookie = self._token_from_cookie()
        if len(in_url) > 1 or (in_url and cookie and self.settings.token_cookie
                               and cookie not in in_url):
            raise Refusal(BAD_REQUEST, "the request carries tokens that disagree")
        token = next(iter(in_url), None) or cookie
        if not token:
            raise Refusal(MISSING_TOKEN, "missing token")
        self.session.token = utils.mask_token(token)
        return token

    def _token_from_cookie(self):
        cookies = http.cookies.SimpleCookie()
        for header in self.request.headers.get_all("Cookie") or []:
            try:
                cookies.load(header)
            except http.cookies.CookieError:
                continue
        morsel = cookies.get("token")
        return morsel.value if morsel is not None else None

    # 3 ----------------------------------------------------------------------------------

    def check_token(self, token):
        """consoleauth's connect_info.ConnectInfo for the token."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise Refusal(INVALID_TOKEN, "invalid token", "token of %d characters" % len(token))
        try:
            connect_info = concurrency.call_aside(self.token_checker.check_token,
                                                  nc_context.get_admin_context(), token)
        except messaging.MessagingTimeout:
            raise Refusal(AUTH_UNAVAILABLE, "console authorization service unavailable",
                          "check_token timed out")
        except Exception as exc:  # RPC or transport error: fail closed
            raise Refusal(AUTH_UNAVAILABLE, "console authorization service unavailable",
                          "check_token failed: %s" % exc.__class__.__name__)
        if not connect_info:
            raise Refusal(INVALID_TOKEN, "invalid token")
        return connect_info

    # 4, 5 -------------------------------------------------------------------------------

    def check_console_type(self):
        console_type = self.connect_info.console_type
        if console_type not in self.settings.console_types:
            raise Refusal(WRONG_CONSOLE_TYPE, "token is not for this console proxy",
                          "console type %r, this proxy serves %s"
                          % (console_type, ", ".join(self.settings.console_types)))

    def check_origin_scheme(self, origin):
        """A page served over https must not open a console issued for http, nor the
        reverse (when both the Origin and the console URL are known)."""
        access_url = self.connect_info.access_url_base
        if origin is None or not access_url:
            return
        expected = _http_scheme(urllib.parse.urlsplit(access_url).scheme)
        if origin[0] != expected:
            raise Refusal(ORIGIN_NOT_ALLOWED, "origin scheme does not match the console URL",
                          "origin scheme %s, console URL scheme %s" % (origin[0], expected))

    # 6 ----------------------------------------------------------------------------------

    def authenticate(self):
        """The proxy's websockify auth plugin, if any: authenticate(headers, host,
        port), which raises AuthenticationError to refuse."""
        plugin = self.settings.auth_plugin
        if plugin is None:
            return
        headers = self.request.headers
        for name in _SERVER_SET_HEADERS:
            del headers[name]
        try:
            plugin.authenticate(headers, self.connect_info.host, self.connect_info.port)
        except auth_plugins.AuthenticationError as exc:
            reason = exc.msg or http.HTTPStatus(exc.code).phrase.lower()
            raise Refusal(AUTHENTICATION_FAILED, reason, str(exc), status=exc.code,
                          headers=exc.headers)

    # 7, 8 -------------------------------------------------------------------------------

    def connect_backend(self):
        """A connected TCP socket to the console server (its timeout still set)."""
        host, port = self.connect_info.host, self.connect_info.port
        try:
            backend = socket.create_connection(
                (host, int(port)), timeout=self.settings.backend_connect_timeout)
        except TimeoutError:
            raise Refusal(BACKEND_TIMEOUT, "the console server did not answer",
                          "connecting to %s:%s timed out" % (host, port))
        except (OSError, TypeError, ValueError) as exc:
            raise Refusal(BACKEND_UNREACHABLE, "cannot connect to the console server",
                          "connecting to %s:%s failed: %s" % (host, port, exc))
        backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return backend

    def handshake_backend(self, backend):
        """Ask the console server for internal_access_path with CONNECT, if set.

        Reads the answer's head exactly up to the blank line: what follows is
        already console data.
        """
        path = self.connect_info.internal_access_path
        if not path:
            return
        try:
            backend.sendall(("CONNECT %s HTTP/1.1\r\n\r\n" % path).encode("latin-1"))
            head = buffers.read_http_head(backend, MAX_BACKEND_HANDSHAKE_BYTES)
        except (OSError, ValueError, UnicodeError) as exc:
            raise Refusal(BACKEND_REFUSED, "the console server refused the connection",
                          "CONNECT handshake failed: %s" % exc)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        words = status_line.split()
        if len(words) < 2 or not words[0].startswith("HTTP/") or words[1] != "200":
            raise Refusal(BACKEND_REFUSED, "the console server refused the connection",
                          "CONNECT answered %r" % status_line[:100])
