"""The console proxy core: one HTTP/WebSocket request handler for every console type.

A request is either

* a plain GET/HEAD for a file of the web client (noVNC, spice-html5), served
  from the server's web root without directory listings, or
* a WebSocket upgrade, which runs these steps in order and answers 101 only
  when all of them passed, so no byte reaches a console server before its
  token was checked:

  1. check_handshake_headers  well-formed WebSocket request          400
  2. check_origin             Origin host is ours or allowed          403
  3. get_token                ?token=, noVNC's ?path=?token=, cookie  403
  4. check_token              consoleauth says yes                    403/503
  5. check_console_type       the token is for this proxy's type      403
  6. check_origin_scheme      Origin scheme matches the console URL   403
  7. connect_backend          TCP connection to the console server    502/504
  8. handshake_backend        CONNECT internal_access_path, if any    502
  9. accept_websocket         101 Switching Protocols
  10. run_session             relay.Relay until one side goes away

A refusal is a status line carrying the reason, the same reason in the
X-Console-Refusal header, no body, and the connection closes: minimal WebSocket
clients (tempest's) read whatever follows the headers as frames.

A proxy for another console type subclasses ConsoleProxyRequestHandler, sets
``console_types`` and overrides only the step that differs: handshake_backend
for another way to reach the console server, run_session for a protocol-level
step between 101 and the relay (the RFB security proxy negotiates with both
ends there, then relays), do_CONNECT for xvpvnc's raw HTTP CONNECT. The server
(server.ConsoleProxyServer) supplies the per-process settings: ``web_root``
and ``token_checker``.

Tokens never reach a log in clear: the request line is logged without its
query, rejections log utils.mask_token(token), and every message that goes
through log_message has token values blanked out.
"""
import http
import http.cookies
import http.server
import io
import os
import re
import ssl
import urllib.parse

# Green sockets whether or not the process is monkey-patched (see concurrency.py).
from eventlet.green import socket
import oslo_messaging as messaging
from oslo_log import log as logging
from websockify import websocketserver

from nova_console import conf as nc_conf
from nova_console.console import buffers
from nova_console.console import framing
from nova_console.console import relay
from nova_console.console import websocket
from nova_console import context as nc_context
from nova_console import utils

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

# Seconds a client has to send a complete request (headers), and a console
# server to answer the CONNECT handshake.
REQUEST_TIMEOUT = 30

# Longest answer to the CONNECT handshake we read from a console server.
MAX_BACKEND_HANDSHAKE_BYTES = 8192

# The header that repeats a refusal's reason (the body stays empty).
REFUSAL_HEADER = "X-Console-Refusal"

# Seconds a refused client has to stop sending before its connection is closed
# (closing with unread bytes would reset it and could destroy the refusal).
REFUSAL_LINGER = 1.0

# Tokens are 32 characters; anything much longer is not worth an RPC.
MAX_TOKEN_LENGTH = 255

# WebSocket subprotocols the consoles speak.
SUBPROTOCOLS = ("binary",)

# "token=value" as it appears in a query, a cookie or a noVNC path= parameter
# (URL-encoded once or twice).
_TOKEN_IN_TEXT = re.compile(r"(token(?:=|%3D|%253D))[^&\s\"';,]*", re.IGNORECASE)


def redact_tokens(text):
    """text with the value of every token=... blanked out."""
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


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


class ProxyRejection(Exception):
    """A WebSocket request the proxy refuses.

    status and reason are what the client gets; detail only goes to the log.
    """

    def __init__(self, status, reason, detail=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.detail = detail


class ConsoleProxyRequestHandler(websocketserver.WebSocketRequestHandlerMixIn,
                                 http.server.SimpleHTTPRequestHandler):
    """Serves the web client's files and proxies console WebSockets.

    Subclasses set console_types: the token console types this proxy serves.
    """

    console_types = ()

    server_version = "nova-console-proxy"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"

    def __init__(self, request, client_address, server):
        self.token_mask = utils.mask_token(None)
        # With no web root, point the file server at a path that holds nothing
        # (send_head refuses first anyway); SimpleHTTPRequestHandler would
        # otherwise serve the current directory.
        super().__init__(request, client_address, server,
                         directory=server.web_root or os.devnull)

    # -- logging: never the query string, which holds the token ------------------

    def log_message(self, format, *args):
        LOG.info("%s %s", self.address_string(), redact_tokens(format % args))

    def log_request(self, code="-", size="-"):
        if isinstance(code, http.HTTPStatus):
            code = code.value
        LOG.debug('%s "%s %s" %s', self.address_string(), getattr(self, "command", None) or "-",
                  self.path_for_log(), code)

    def path_for_log(self):
        """The request path without its query (and so without a token)."""
        path = getattr(self, "path", None)
        if not path:
            return "-"
        return redact_tokens(path.split("?", 1)[0])

    # -- plain HTTP: the web client's files ---------------------------------------

    def parse_request(self):
        if not super().parse_request():
            return False
        # Browsers read "//host/..." as another site: a redirect to such a path
        # (e.g. the directory redirect) would be an open redirect. The standard
        # library collapses the slashes in self.path, so look at the raw target.
        words = self.requestline.split()
        if len(words) >= 2 and words[1].startswith("//"):
            self.send_error(http.HTTPStatus.BAD_REQUEST, "URI must not start with //")
            return False
        return True

    def send_head(self):
        if not self.server.web_root:
            self.send_error(http.HTTPStatus.NOT_FOUND, "This console proxy serves no files")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(http.HTTPStatus.NOT_FOUND, "Directory listing is disabled")
        return None

    def refuse_method(self):
        self.send_plain_response(http.HTTPStatus.METHOD_NOT_ALLOWED,
                                 "Only GET and HEAD are supported",
                                 {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = refuse_method
    do_CONNECT = refuse_method

    def send_plain_response(self, status, text, headers=None):
        """A complete short plain-text response; the connection closes after it."""
        body = (text + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- WebSocket: the console ---------------------------------------------------

    def handle_upgrade(self):
        """Authorise, connect the console server, then answer 101 and relay."""
        self.close_connection = True
        backend = None
        try:
            self.check_handshake_headers()
            origin = self.check_origin()
            token = self.get_token()
            connect_info = self.check_token(token)
            self.check_console_type(connect_info)
            self.check_origin_scheme(origin, connect_info)
            backend = self.connect_backend(connect_info)
            self.handshake_backend(backend, connect_info)
        except ProxyRejection as rejection:
            self._close_backend(backend)
            self.reject(rejection)
            return
        except BaseException:
            self._close_backend(backend)
            raise
        try:
            if self.accept_websocket():
                self.run_session(backend, connect_info)
        finally:
            self._close_backend(backend)

    def check_handshake_headers(self):
        """Everything the upgrade needs, checked before any work is done for it."""
        try:
            self.subprotocol = websocket.check_upgrade_request(self.headers, SUBPROTOCOLS)
        except websocket.HandshakeError as exc:
            raise ProxyRejection(http.HTTPStatus.BAD_REQUEST, str(exc))

    def allowed_origin_hosts(self):
        """Host names a WebSocket may come from: the one the client asked for (Host)
        and the configured allowed_origins. Built afresh for every request."""
        allowed = {_hostname(entry) for entry in CONF.console.allowed_origins}
        allowed.add(_hostname(self.headers.get("Host")))
        allowed.discard(None)
        return allowed

    def check_origin(self):
        """(scheme, hostname) of the Origin header, or None if there is none.

        Browsers always send Origin with a WebSocket request; other clients (no
        cross-site risk) may not, and are let through.
        """
        origins = self.headers.get_all("Origin") or []
        if not origins:
            return None
        if len(origins) > 1:
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN, "more than one Origin header")
        try:
            parsed = urllib.parse.urlsplit(origins[0].strip())
            hostname = parsed.hostname
        except ValueError:
            hostname = None
        if not hostname or parsed.scheme.lower() not in ("http", "https"):
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN, "invalid Origin header",
                                 "origin %r" % origins[0][:100])
        if hostname not in self.allowed_origin_hosts():
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN, "origin not allowed",
                                 "origin host %r" % hostname[:100])
        return parsed.scheme.lower(), hostname

    def get_token(self):
        """The token from the query (?token= or noVNC's ?path=?token=), else from the
        'token' cookie."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        candidates = list(query.get("token", []))
        for inner_path in query.get("path", []):
            inner_query = urllib.parse.urlsplit(inner_path).query
            candidates.extend(urllib.parse.parse_qs(inner_query).get("token", []))
        candidates.append(self._token_from_cookie())
        token = next((c for c in candidates if c), None)
        if not token:
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN, "missing token")
        self.token_mask = utils.mask_token(token)
        return token

    def _token_from_cookie(self):
        cookies = http.cookies.SimpleCookie()
        for header in self.headers.get_all("Cookie") or []:
            try:
                cookies.load(header)
            except http.cookies.CookieError:
                continue
        morsel = cookies.get("token")
        return morsel.value if morsel is not None else None

    def check_token(self, token):
        """consoleauth's connect_info for the token."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN, "invalid token",
                                 "token of %d characters" % len(token))
        try:
            connect_info = self.server.token_checker.check_token(
                nc_context.get_admin_context(), token)
        except messaging.MessagingTimeout:
            raise ProxyRejection(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                 "console authorization service unavailable",
                                 "check_token timed out")
        except Exception as exc:  # RPC or transport error: fail closed
            raise ProxyRejection(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                 "console authorization service unavailable",
                                 "check_token failed: %s" % exc.__class__.__name__)
        if not connect_info:
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN, "invalid token")
        return connect_info

    def check_console_type(self, connect_info):
        console_type = connect_info.console_type
        if console_type not in self.console_types:
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN,
                                 "token is not for this console proxy",
                                 "console type %r, this proxy serves %s"
                                 % (console_type, ", ".join(self.console_types)))

    def check_origin_scheme(self, origin, connect_info):
        """A page served over https must not open a console issued for http, nor the
        reverse (when both the Origin and the console URL are known)."""
        access_url = connect_info.access_url_base
        if origin is None or not access_url:
            return
        expected = _http_scheme(urllib.parse.urlsplit(access_url).scheme)
        if origin[0] != expected:
            raise ProxyRejection(http.HTTPStatus.FORBIDDEN,
                                 "origin scheme does not match the console URL",
                                 "origin scheme %s, console URL scheme %s"
                                 % (origin[0], expected))

    def connect_backend(self, connect_info):
        """A connected TCP socket to the console server (timeout still set)."""
        host, port = connect_info.host, connect_info.port
        try:
            backend = socket.create_connection(
                (host, int(port)), timeout=CONF.console.backend_connect_timeout)
        except TimeoutError:
            raise ProxyRejection(http.HTTPStatus.GATEWAY_TIMEOUT,
                                 "the console server did not answer",
                                 "connecting to %s:%s timed out" % (host, port))
        except (OSError, TypeError, ValueError) as exc:
            raise ProxyRejection(http.HTTPStatus.BAD_GATEWAY,
                                 "cannot connect to the console server",
                                 "connecting to %s:%s failed: %s" % (host, port, exc))
        backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return backend

    def handshake_backend(self, backend, connect_info):
        """Ask the console server for internal_access_path with CONNECT, if set.

        Reads the answer's headers exactly up to the blank line: what follows is
        already console data.
        """
        path = connect_info.internal_access_path
        if not path:
            return
        try:
            backend.sendall(("CONNECT %s HTTP/1.1\r\n\r\n" % path).encode("latin-1"))
            head = buffers.read_http_head(backend, MAX_BACKEND_HANDSHAKE_BYTES)
        except (OSError, ValueError, UnicodeError) as exc:
            raise ProxyRejection(http.HTTPStatus.BAD_GATEWAY,
                                 "the console server refused the connection",
                                 "CONNECT handshake failed: %s" % exc)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        words = status_line.split()
        if len(words) < 2 or not words[0].startswith("HTTP/") or words[1] != "200":
            raise ProxyRejection(http.HTTPStatus.BAD_GATEWAY,
                                 "the console server refused the connection",
                                 "CONNECT answered %r" % status_line[:100])

    def accept_websocket(self):
        """Answer 101 Switching Protocols; False if the client left meanwhile.

        The request headers were checked by check_handshake_headers."""
        self.send_response(http.HTTPStatus.SWITCHING_PROTOCOLS)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept",
                         websocket.accept_key(self.headers["Sec-WebSocket-Key"]))
        if self.subprotocol:
            self.send_header("Sec-WebSocket-Protocol", self.subprotocol)
        try:
            self.end_headers()
        except OSError as exc:
            LOG.info("WebSocket handshake with %s failed: %s", self.address_string(),
                     exc.__class__.__name__)
            return False
        return True

    def _take_buffered_input(self):
        """Bytes the request parser read past the headers (a client may send early),
        and the parser's buffer released: a session keeps no HTTP state it no
        longer needs."""
        sock = self.connection
        timeout = sock.gettimeout()
        sock.settimeout(0)
        try:
            early = self.rfile.read1(relay.READ_SIZE) or b""
        except (BlockingIOError, ssl.SSLWantReadError, OSError):
            early = b""
        finally:
            sock.settimeout(timeout)
        self.rfile.close()
        self.rfile = io.BytesIO()
        return early

    def run_session(self, backend, connect_info):
        early = self._take_buffered_input()
        self.connection.settimeout(None)
        backend.settimeout(None)
        expires_at = None
        if CONF.consoleauth.enforce_session_timeout:
            expires_at = connect_info.expires
        details = {"client": self.address_string(),
                   "instance": connect_info.instance_uuid,
                   "console_type": connect_info.console_type,
                   "backend": "%s:%s" % (connect_info.host, connect_info.port),
                   "token": self.token_mask}
        LOG.info("Console session started: %(console_type)s console of instance "
                 "%(instance)s at %(backend)s for %(client)s (token %(token)s)", details)
        client = framing.ClientStream(self.connection, framing.WebSocketFraming(), early)
        session = relay.Relay(client, backend, expires_at).run()
        details.update(to_backend=session.bytes_to_backend, to_client=session.bytes_to_client,
                       duration=session.duration, reason=session.end_reason)
        LOG.info("Console session ended: instance %(instance)s, client %(client)s, "
                 "%(to_backend)d bytes to the console, %(to_client)d bytes to the client, "
                 "%(duration).1f s (%(reason)s)", details)

    def reject(self, rejection):
        """Answer a refused WebSocket request; one log line says why."""
        log = LOG.warning if rejection.status >= 500 else LOG.info
        log("Refused console connection from %(client)s (token %(token)s): "
            "%(status)d %(reason)s%(detail)s",
            {"client": self.address_string(), "token": self.token_mask,
             "status": rejection.status, "reason": rejection.reason,
             "detail": "; %s" % rejection.detail if rejection.detail else ""})
        try:
            self.send_refusal(rejection.status, rejection.reason)
        except OSError:
            pass  # the client already left

    def send_refusal(self, status, reason):
        """The reason in the status line and in REFUSAL_HEADER, an empty body; then
        what the client still sends is read and dropped for up to REFUSAL_LINGER
        seconds, so that the connection closes without a reset."""
        self.close_connection = True
        self.log_request(status)
        self.wfile.write(refusal_head(status, reason))
        self.wfile.flush()
        buffers.linger_until_eof(self.connection, REFUSAL_LINGER)

    @staticmethod
    def _close_backend(backend):
        if backend is not None:
            buffers.shutdown_quietly(backend)
            backend.close()


def refusal_head(status, reason):
    """The whole answer refusing a console connection: status line and headers."""
    return ("HTTP/1.1 %d %s\r\n%s: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            % (int(status), reason, REFUSAL_HEADER, reason)).encode("latin-1")
