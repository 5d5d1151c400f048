"""How a client asks a proxy for a console, and how it is answered: the fronts.

* WebSocketFront: GET with Upgrade: websocket (noVNC, spice-html5, a serial
  console page). Answered 101 Switching Protocols; the console's bytes then
  travel in binary frames (framing.WebSocketFraming), or base64 in text frames
  for a client that asked for the 'base64' subprotocol where the proxy speaks it.
* ConnectFront: HTTP CONNECT /console?token=... (the XVP proxy's Java VNC
  viewers). Answered "HTTP/1.1 200 OK"; the console's own bytes follow on the
  same connection (framing.RawFraming).

A front checks the form of a request before any work is done for it, answers
each kind of refusal (target.py) with its own HTTP status, accepts, and gives
the session its client framing. The token and the console server are
target.py's business, the same for every front.
"""
import http
import urllib.parse

from oslo_log import log as logging

from nova_console.console import framing
from nova_console.console import target
from nova_console.console import websocket

LOG = logging.getLogger(__name__)

# The statuses of Nova's noVNC proxy; a front changes those it answers otherwise.
_STATUSES = {
    target.BAD_REQUEST: http.HTTPStatus.BAD_REQUEST,
    target.NOT_FOUND: http.HTTPStatus.NOT_FOUND,
    target.METHOD_NOT_ALLOWED: http.HTTPStatus.METHOD_NOT_ALLOWED,
    target.ORIGIN_NOT_ALLOWED: http.HTTPStatus.FORBIDDEN,
    target.MISSING_TOKEN: http.HTTPStatus.FORBIDDEN,
    target.INVALID_TOKEN: http.HTTPStatus.FORBIDDEN,
    target.WRONG_CONSOLE_TYPE: http.HTTPStatus.FORBIDDEN,
    target.AUTH_UNAVAILABLE: http.HTTPStatus.SERVICE_UNAVAILABLE,
    target.AUTHENTICATION_FAILED: http.HTTPStatus.FORBIDDEN,
    target.BACKEND_UNREACHABLE: http.HTTPStatus.BAD_GATEWAY,
    target.BACKEND_TIMEOUT: http.HTTPStatus.GATEWAY_TIMEOUT,
    target.BACKEND_REFUSED: http.HTTPStatus.BAD_GATEWAY,
}


class Front:
    """Base of the fronts: `name` (for logs and events), `method` (the HTTP
    method it answers) and `statuses` (refusal kind -> status)."""

    name = None
    method = None
    statuses = _STATUSES

    def status_for(self, refusal):
        return refusal.status or self.statuses[refusal.kind]

    def check_request(self, request):
        """Refusal unless the request has the form this front takes; returns what
        accept() needs to answer it."""
        raise NotImplementedError()

    def accept(self, request, accepted):
        """Tell the client yes; False if it left meanwhile."""
        raise NotImplementedError()

    def new_framing(self, settings, accepted):
        """The client framing of one session (accepted: what check_request gave)."""
        raise NotImplementedError()


class WebSocketFront(Front):
    name = "websocket"
    method = "GET"

    def __init__(self, subprotocols=("binary",)):
        """subprotocols: those the proxy speaks, preferred first (framing.py has
        the framing of each)."""
        unknown = set(subprotocols) - set(framing.SUBPROTOCOL_FRAMINGS)
        if unknown:
            raise ValueError("no framing for WebSocket subprotocol(s) %s"
                             % ", ".join(sorted(unknown)))
        self.subprotocols = tuple(subprotocols)

    def check_request(self, request):
        """The subprotocol to answer with (RFC 6455 checks: websocket.py)."""
        try:
            return websocket.check_upgrade_request(request.headers, self.subprotocols)
        except websocket.HandshakeError as exc:
            raise target.Refusal(target.BAD_REQUEST, str(exc))

    def accept(self, request, subprotocol):
        request.send_response(http.HTTPStatus.SWITCHING_PROTOCOLS)
        request.send_header("Upgrade", "websocket")
        request.send_header("Connection", "Upgrade")
        request.send_header("Sec-WebSocket-Accept",
                            websocket.accept_key(request.headers["Sec-WebSocket-Key"]))
        if subprotocol:
            request.send_header("Sec-WebSocket-Protocol", subprotocol)
        return _end_headers(request)

    def new_framing(self, settings, subprotocol):
        return framing.SUBPROTOCOL_FRAMINGS[subprotocol](settings.max_message_bytes)


class ConnectFront(Front):
    """CONNECT <path>?token=<token> HTTP/1.0 (or 1.1), as Nova's XVP proxy took it;
    `path` is the path of the proxy's base URL."""

    name = "connect"
    method = "CONNECT"
    statuses = dict(_STATUSES, **{
        target.MISSING_TOKEN: http.HTTPStatus.BAD_REQUEST,
        target.INVALID_TOKEN: http.HTTPStatus.UNAUTHORIZED,
        target.WRONG_CONSOLE_TYPE: http.HTTPStatus.UNAUTHORIZED,
    })

    def __init__(self, path="/console"):
        self.path = path

    def check_request(self, request):
        if not request.path.startswith("/"):
            raise target.Refusal(target.BAD_REQUEST,
                                 "CONNECT takes %s?token=<token>, not a host and port"
                                 % self.path, "CONNECT %r" % request.path[:100])
        if urllib.parse.urlsplit(request.path).path != self.path:
            raise target.Refusal(target.NOT_FOUND, "no console at this path; CONNECT %s"
                                 "?token=<token>" % self.path)
        return None

    def accept(self, request, _accepted):
        # The Java viewer wants a first line starting "HTTP/1.1 200 ", then skips
        # header lines up to the blank one.
        request.send_response(http.HTTPStatus.OK)
        return _end_headers(request)

    def new_framing(self, settings, _accepted):
        return framing.RawFraming()


def _end_headers(request):
    try:
        request.end_headers()
    except OSError as exc:
        LOG.info("%s left before the console was opened: %s", request.address_string(),
                 exc.__class__.__name__)
        return False
    return True
