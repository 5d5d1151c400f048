"""The console proxies' request handler: one for every proxy, its behaviour from
the proxy's settings (settings.py).

A request is either

* a plain GET or HEAD for a file of the web client (noVNC, spice-html5), served
  from the proxy's web root without directory listings,
* GET or HEAD /healthcheck, on every proxy (health.py), or
* a request for a console, through one of the proxy's fronts (fronts.py): a
  WebSocket upgrade (websockify's request-handler mixin routes it here), or an
  HTTP CONNECT. Its steps, in order (serve_console):

  1. front.check_request   the request has the front's form          400, 404
  2. TargetOpener.open     token, console type, Origin, connect       target.py
                           (no byte reaches a console server before
                           the token was checked)
  3. front.accept          101 Switching Protocols, or 200 to CONNECT
  4. negotiator            the proxy's protocol step, if any          negotiator.py
  5. relay                 until either side goes away                relay.py

  Each connection ends in one session event: refused, or started then ended
  (events.py).

A refusal is a status line carrying the reason, the same reason in the
X-Console-Refusal header, no body, and the connection closes: minimal clients
(tempest's WebSocket client, a Java viewer) read what follows the head as
console data.

A client has the proxy's request timeout to send a whole request head (a
client sending one byte at a time is cut then too). Tokens never reach a log in
clear: the request line is logged without its query, refusals log the token's
mask, and every message that goes through log_message has token values blanked.
"""
import http
import http.server
import io
import os
import re
import ssl

from oslo_log import log as logging
from websockify import websocketserver

from nova_console.console import buffers
from nova_console.console import concurrency
from nova_console.console import events
from nova_console.console import framing
from nova_console.console import health
from nova_console.console import negotiator
from nova_console.console import relay
from nova_console.console import target
from nova_console.console import websocket

LOG = logging.getLogger(__name__)

# The header that repeats a refusal's reason (the body stays empty).
REFUSAL_HEADER = "X-Console-Refusal"

# Seconds a refused client has to stop sending before its connection is closed
# (closing with unread bytes would reset it and could destroy the refusal).
REFUSAL_LINGER = 1.0

# "token=value" as it appears in a query, a cookie or a noVNC path= parameter
# (URL-encoded once or twice).
_TOKEN_IN_TEXT = re.compile(r"(token(?:=|%3D|%253D))[^&\s\"';,]*", re.IGNORECASE)


def redact_tokens(text):
    """text with the value of every token=... blanked out."""
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


def refusal_head(status, reason, headers=None):
    """The whole answer refusing a console connection: status line and headers."""
    lines = ["HTTP/1.1 %d %s" % (int(status), reason), "%s: %s" % (REFUSAL_HEADER, reason)]
    lines += ["%s: %s" % item for item in (headers or {}).items()]
    lines += ["Content-Length: 0", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


class ConsoleProxyRequestHandler(websocketserver.WebSocketRequestHandlerMixIn,
                                 http.server.SimpleHTTPRequestHandler):
    """Serves a proxy's web client files and its consoles (server.settings)."""

    server_version = "nova-console-proxy"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"

    def __init__(self, request, client_address, server):
        self.settings = server.settings
        self.timeout = self.settings.request_timeout  # each read of the request
        self._request_deadline = None
        # With no web root, point the file server at a path that holds nothing
        # (send_head refuses first anyway); SimpleHTTPRequestHandler would
        # otherwise serve the current directory.
        super().__init__(request, client_address, server,
                         directory=self.settings.web_root or os.devnull)

    # -- the request head, within the request timeout ------------------------------------

    def handle_one_request(self):
        self._request_deadline = concurrency.call_later(
            self.settings.request_timeout, self._cut_slow_request)
        try:
            super().handle_one_request()
        finally:
            self._end_request_deadline()

    def _cut_slow_request(self):
        LOG.info("%s did not send its request within %.0f s: connection closed",
                 self.address_string(), self.settings.request_timeout)
        buffers.shutdown_quietly(self.connection)

    def _end_request_deadline(self):
        if self._request_deadline is not None:
            self._request_deadline.cancel()
            self._request_deadline = None

    def parse_request(self):
        if not super().parse_request():
            return False
        self._end_request_deadline()
        # Browsers read "//host/..." as another site: a redirect to such a path
        # (e.g. the directory redirect) would be an open redirect. The standard
        # library collapses the slashes in self.path, so look at the raw target.
        words = self.requestline.split()
        if len(words) >= 2 and words[1].startswith("//"):
            self.send_error(http.HTTPStatus.BAD_REQUEST, "URI must not start with //")
            return False
        return True

    # -- logging: never the query string, which holds the token ------------------------

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

    # -- methods ----------------------------------------------------------------------

    def handle_upgrade(self):
        """A WebSocket upgrade (websockify's mixin sends every one here)."""
        front = self.settings.front_for("GET")
        if front is None:
            self.refuse_method()
            return
        self.serve_console(front)

    def do_GET(self):
        if not health.answer(self) and self._serves_files():
            super().do_GET()

    def do_HEAD(self):
        if not health.answer(self) and self._serves_files():
            super().do_HEAD()

    def _serves_files(self):
        """True if the proxy has a web root; otherwise the request is answered here:
        404 from a proxy that takes GET for its consoles only, 405 from one that
        takes no GET at all."""
        if self.settings.web_root:
            return True
        if "GET" in self.settings.allowed_methods:
            self.send_error(http.HTTPStatus.NOT_FOUND, "This console proxy serves no files")
        else:
            self.refuse_method()
        return False

    def do_CONNECT(self):
        front = self.settings.front_for("CONNECT")
        if front is None:
            self.refuse_method()
            return
        self.serve_console(front)

    def refuse_method(self):
        allowed = ", ".join(self.settings.allowed_methods)
        self.send_refusal(http.HTTPStatus.METHOD_NOT_ALLOWED,
                          "this port takes only %s" % allowed, {"Allow": allowed})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = refuse_method

    # -- plain HTTP: the web client's files ---------------------------------------------

    def send_error(self, code, message=None, explain=None):
        """Errors of a proxy that serves no files are refusals too (no body): its
        clients (a Java viewer, a serial console) read any byte as console data."""
        if self.settings.web_root:
            super().send_error(code, message, explain)
        else:
            self.send_refusal(code, message or http.HTTPStatus(code).phrase)

    def list_directory(self, path):
        self.send_error(http.HTTPStatus.NOT_FOUND, "Directory listing is disabled")
        return None

    # -- a console ----------------------------------------------------------------------

    def serve_console(self, front):
        """The steps of a console request, through `front` (module docstring)."""
        self.close_connection = True
        session = events.Session(proxy=self.settings.name, front=front.name,
                                 client=self.address_string())
        observers = events.SessionEvents(self.settings.observers)
        opener = target.TargetOpener(self, self.settings, self.server.token_checker, session)
        backend = None
        try:
            accepted = front.check_request(self)
            backend = opener.open()
        except target.Refusal as refusal:
            observers.refused(session, refusal)
            self.send_refusal(front.status_for(refusal), refusal.reason, refusal.headers)
            return
        try:
            if not front.accept(self, accepted):
                observers.refused(session, target.Refusal(
                    target.CLIENT_LEFT, "the client left before the console was opened"))
                return
            client = framing.ClientStream(self.connection,
                                          front.new_framing(self.settings, accepted),
                                          self._take_buffered_input())
            self.connection.settimeout(None)
            backend.settimeout(None)
            if self._negotiate(client, backend, opener.connect_info, session, observers):
                self._relay(client, backend, opener.connect_info, session, observers)
        finally:
            buffers.shutdown_quietly(backend)
            backend.close()

    def _negotiate(self, client, backend, connect_info, session, observers):
        """The proxy's negotiator, within the request timeout; False (the client told,
        the refusal observed) if it failed."""
        try:
            with concurrency.Timeout(self.settings.request_timeout):
                self.settings.negotiator.negotiate(client, backend, connect_info)
            return True
        except (negotiator.NegotiationFailed, concurrency.Timeout, OSError) as exc:
            reason = (str(exc) if isinstance(exc, negotiator.NegotiationFailed)
                      else "negotiation with %s: %s" % (self.settings.negotiator.name,
                                                        exc.__class__.__name__))
        refusal = target.Refusal(target.NEGOTIATION_FAILED, reason)
        observers.refused(session, refusal)
        try:
            with client.write_lock:
                client.sock.sendall(client.framing.goodbye(
                    websocket.CLOSE_POLICY_VIOLATION, reason[:100]))
        except OSError:
            pass
        buffers.linger_until_eof(client.sock, REFUSAL_LINGER)
        return False

    def _relay(self, client, backend, connect_info, session, observers):
        expires_at = connect_info.expires if self.settings.enforce_session_timeout else None
        observers.started(session)
        session.record_relay(relay.Relay(client, backend, expires_at).run())
        observers.ended(session)

    def _take_buffered_input(self):
        """Bytes the request parser read past the head (a client may send early),
        and the parser's buffer released: a session keeps no HTTP state it no
        longer needs."""
        sock = self.connection
        timeout = sock.gettimeout()
        sock.settimeout(0)
        try:
            early = self.rfile.read1(buffers.READ_SIZE) or b""
        except (BlockingIOError, ssl.SSLWantReadError, OSError):
            early = b""
        finally:
            sock.settimeout(timeout)
        self.rfile.close()
        self.rfile = io.BytesIO()
        return early

    def send_refusal(self, status, reason, headers=None):
        """The reason in the status line and in REFUSAL_HEADER, an empty body; then
        what the client still sends is read and dropped for up to REFUSAL_LINGER
        seconds, so that the connection closes without a reset."""
        self.close_connection = True
        self.log_request(status)
        try:
            self.wfile.write(refusal_head(status, reason, headers))
            self.wfile.flush()
        except OSError:
            return  # the client already left
        buffers.linger_until_eof(self.connection, REFUSAL_LINGER)
