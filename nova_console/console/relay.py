"""Copying bytes between a client's WebSocket and a console server.

Everything here is blocking socket code. Under eventlet monkey patching each
blocking call yields to the hub, so a session costs two green threads (one per
direction) plus the handler's own; unpatched, the same code runs on OS threads.

Back-pressure: each direction does a blocking read, then a blocking write of
what it read, so a slow reader on one side stops the other side from being
read; nothing is buffered beyond one read (READ_SIZE bytes) per direction.

WebSocket framing is websockify's ``WebSocket``. Two things it does not do are
added by ``ConsoleWebSocket``:

* A size limit. websockify 0.13 accepts any frame length the client announces
  (up to 2**63) and keeps reading until the whole frame is buffered, and it
  joins continuation frames without limit. ``ConsoleWebSocket`` refuses a
  message (frame or sum of fragments) larger than MAX_MESSAGE_BYTES as soon as
  its header arrives; the session is closed with status 1009.
* A write lock. Reading the WebSocket can write (a pong for a ping, the echo
  of a close), so the reading thread and the writing thread both write; every
  writing method takes the same lock so frames never interleave.
"""
import socket
import threading
import time

from oslo_log import log as logging
from websockify import websocket as ws_lib
from websockify import websocketserver

LOG = logging.getLogger(__name__)

# Bytes asked of the kernel per read, on both sockets.
READ_SIZE = 64 * 1024

# Largest WebSocket message a client may send. RFB and serial clients send
# small messages (keys, pointer events, clipboard text).
MAX_MESSAGE_BYTES = 1024 * 1024

# WebSocket close status codes (RFC 6455, section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009

# Seconds the relay waits to send a close frame, then for a direction to stop,
# when a session ends.
CLOSE_TIMEOUT = 2.0


class MessageTooBig(Exception):
    """The client announced a WebSocket message larger than the limit."""

    def __init__(self, size, limit):
        super().__init__("WebSocket message of %d bytes exceeds the limit of %d bytes"
                         % (size, limit))
        self.size = size


def shutdown_quietly(sock):
    """Stop all I/O on a socket, waking any thread blocked on it; never raises.

    shutdown() rather than close(): another thread may be blocked in recv() on
    the socket, and only shutdown() reliably wakes it (on OS threads and green
    threads alike). The socket's owner closes it afterwards.
    """
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


def _declared_payload_length(buf):
    """Payload length announced by the frame header at the start of buf (RFC 6455,
    section 5.2), or None while the header is incomplete."""
    if len(buf) < 2:
        return None
    length = buf[1] & 0x7F
    if length == 126:
        return int.from_bytes(buf[2:4], "big") if len(buf) >= 4 else None
    if length == 127:
        return int.from_bytes(buf[2:10], "big") if len(buf) >= 10 else None
    return length


class ClientStream:
    """The client socket as the WebSocket object sees it.

    * Bytes the HTTP request parser had already read past the request's headers
      are returned first, so nothing a client sent early is lost.
    * Every read asks for READ_SIZE bytes (websockify asks for 4 KiB).
    * close() only shuts the socket down: the server that accepted the
      connection owns the descriptor and closes it.
    All other attributes are the socket's own.
    """

    def __init__(self, sock, already_read=b""):
        self._sock = sock
        self._already_read = already_read

    def recv(self, bufsize):
        if self._already_read:
            data, self._already_read = self._already_read, b""
            return data
        return self._sock.recv(max(bufsize, READ_SIZE))

    def send(self, data):
        return self._sock.send(data)

    def close(self):
        shutdown_quietly(self._sock)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class ConsoleWebSocket(websocketserver.HttpWebSocket):
    """The server side of a console WebSocket: binary messages, bounded in size,
    safe to write from two threads."""

    max_message_bytes = MAX_MESSAGE_BYTES

    def __init__(self, request_handler):
        super().__init__(request_handler)
        self.write_lock = threading.RLock()

    def select_subprotocol(self, protocols):
        # websockify hands over the raw comma-split header values; the chosen one
        # must be returned exactly as offered.
        for protocol in protocols:
            if protocol.strip() == "binary":
                return protocol
        return ""

    def _decode_hybi(self, buf):
        # Refuse an oversized message as soon as its frame header is complete,
        # before its payload is buffered (websockify has no limit of its own).
        declared = _declared_payload_length(buf)
        if declared is not None:
            total = declared + len(self._partial_msg)
            if total > self.max_message_bytes:
                raise MessageTooBig(total, self.max_message_bytes)
        return super()._decode_hybi(buf)

    def sendmsg(self, msg):
        with self.write_lock:
            return super().sendmsg(msg)

    def ping(self, data=b""):
        with self.write_lock:
            return super().ping(data)

    def pong(self, data=b""):
        with self.write_lock:
            return super().pong(data)

    def shutdown(self, how, code=1000, reason=None):
        with self.write_lock:
            return super().shutdown(how, code, reason)


def recv_from_client(websocket):
    """Next message from the client (may be b""), or None once the WebSocket is
    closed. Blocks; raises MessageTooBig or OSError."""
    while True:
        try:
            return websocket.recvmsg()
        except (ws_lib.WebSocketWantReadError, ws_lib.WebSocketWantWriteError):
            # Blocking socket: nothing complete yet (a control frame or part of a
            # message was read), or a pong was only partly written; read on.
            continue


def send_to_client(websocket, data):
    """Send data as one binary message; blocks until the kernel took all of it."""
    with websocket.write_lock:
        while True:
            try:
                websocket.sendmsg(data)
                return
            except ws_lib.WebSocketWantWriteError:
                # Partly written; sendmsg() with the same data writes the rest.
                continue


class Relay:
    """One console session: client WebSocket <-> backend socket until either side
    goes away (or, when expires_at is given, until that unix time).

    run() blocks until both directions stopped and both sockets are shut down;
    afterwards bytes_to_backend, bytes_to_client, duration and end_reason
    describe the session.
    """

    def __init__(self, websocket, client_sock, backend_sock, expires_at=None):
        self.websocket = websocket
        self.client_sock = client_sock
        self.backend_sock = backend_sock
        self.expires_at = expires_at
        self.bytes_to_backend = 0
        self.bytes_to_client = 0
        self.duration = 0.0
        self.end_reason = None
        self._close_code = CLOSE_NORMAL
        self._lock = threading.Lock()
        self._one_side_done = threading.Event()

    def run(self):
        started = time.monotonic()
        pumps = [self._start(self._client_to_backend, "client->backend"),
                 self._start(self._backend_to_client, "backend->client")]
        if not self._one_side_done.wait(self._seconds_left()):
            self._finish("console token expired", CLOSE_POLICY_VIOLATION)
        self._close_both()
        for pump in pumps:
            pump.join(CLOSE_TIMEOUT)
            if pump.is_alive():
                LOG.warning("Console relay thread %s did not stop", pump.name)
        self.duration = time.monotonic() - started
        return self

    def _seconds_left(self):
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - time.time())

    @staticmethod
    def _start(target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def _finish(self, reason, close_code=CLOSE_NORMAL):
        """Record why the session ends (the first reason wins) and wake run()."""
        with self._lock:
            if self.end_reason is None:
                self.end_reason = reason
                self._close_code = close_code
        self._one_side_done.set()

    def _client_to_backend(self):
        reason, code = "client closed the connection", CLOSE_NORMAL
        try:
            while True:
                data = recv_from_client(self.websocket)
                if data is None:
                    break
                if data:
                    self.backend_sock.sendall(data)
                    self.bytes_to_backend += len(data)
        except MessageTooBig as exc:
            reason, code = str(exc), CLOSE_MESSAGE_TOO_BIG
        except Exception as exc:  # any socket or protocol error ends the session
            reason = "client->backend: %s" % (exc.__class__.__name__,)
        self._finish(reason, code)

    def _backend_to_client(self):
        reason = "console server closed the connection"
        try:
            while True:
                data = self.backend_sock.recv(READ_SIZE)
                if not data:
                    break
                send_to_client(self.websocket, data)
                self.bytes_to_client += len(data)
        except Exception as exc:  # any socket or protocol error ends the session
            reason = "backend->client: %s" % (exc.__class__.__name__,)
        self._finish(reason)

    def _close_both(self):
        """Say goodbye to the client if it can still hear it, then shut both sockets
        down, which wakes both directions."""
        if self.websocket.write_lock.acquire(timeout=CLOSE_TIMEOUT):
            try:
                self.client_sock.settimeout(CLOSE_TIMEOUT)
                self.websocket.shutdown(socket.SHUT_RDWR, self._close_code,
                                        self.end_reason[:100])
            except Exception:  # the client is gone or not reading: nothing to tell
                pass
            finally:
                self.websocket.write_lock.release()
        shutdown_quietly(self.client_sock)
        shutdown_quietly(self.backend_sock)
