"""Test doubles for the console proxy: a WebSocket client written from RFC 6455,
TCP console servers ("backends") and a token checker.

No imports from the package under test and no relative imports: the eventlet
test runs this module in a subprocess too.
"""
import base64
import hashlib
import os
import socket
import ssl
import struct
import threading
import time
import types
import uuid

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketClosed(Exception):
    def __init__(self, code, reason):
        super().__init__("closed with %s %r" % (code, reason))
        self.code = code
        self.reason = reason


def _mask(data, key):
    size = len(data)
    if not size:
        return b""
    keystream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "little") ^ int.from_bytes(keystream, "little")).to_bytes(
        size, "little")


def encode_frame(opcode, payload, fin=True, mask=True):
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if mask else 0
    size = len(payload)
    if size < 126:
        header = struct.pack(">BB", first, mask_bit | size)
    elif size < 65536:
        header = struct.pack(">BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack(">BBQ", first, mask_bit | 127, size)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + _mask(payload, key)


class HTTPAnswer:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason  # the status line's text
        self.headers = headers
        self.body = body

    def __repr__(self):
        return "HTTPAnswer(%r, %r, %r, %r)" % (self.status, self.reason, self.headers,
                                               self.body)


def tls_client(port):
    """A WSClient over TLS that accepts any server certificate (the tests' own)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return WSClient(port, sock=context.wrap_socket(raw))


class WSClient:
    """A deliberately small WebSocket client with full control over headers."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, sock=None):
        self.port = port
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._buf = b""

    def handshake(self, path="/", headers=None, origin="default", host="default",
                  protocols="binary", trailing=b""):
        """Send the upgrade request; the HTTPAnswer. headers: (name, value) pairs.
        trailing: bytes sent in the same write right after the request."""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path]
        if host == "default":
            host = "127.0.0.1:%d" % self.port
        if host is not None:
            lines.append("Host: %s" % host)
        if origin == "default":
            origin = "http://127.0.0.1:%d" % self.port
        if origin is not None:
            lines.append("Origin: %s" % origin)
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: %s" % protocols)
        lines += ["%s: %s" % pair for pair in headers or ()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + trailing)
        answer = self._read_answer()
        if answer.status == 101:
            expected = base64.b64encode(
                hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            assert answer.headers.get("sec-websocket-accept") == expected
        return answer

    def _read_answer(self):
        while b"\r\n\r\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the answer: %r" % self._buf)
            self._buf += chunk
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        words = lines[0].split(" ", 2)
        status, reason = int(words[1]), words[2] if len(words) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if status != 101:
            size = int(headers.get("content-length", "0"))
            body = self._read_exactly(size)
        return HTTPAnswer(status, reason, headers, body)

    def _read_exactly(self, size):
        while len(self._buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed after %d of %d bytes" % (len(self._buf), size))
            self._buf += chunk
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def send(self, data):
        self.sock.sendall(encode_frame(0x2, data))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        """(opcode, payload) of the next frame from the server."""
        first, second = self._read_exactly(2)
        assert not second & 0x80, "server frames must not be masked"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack(">H", self._read_exactly(2))[0]
        elif size == 127:
            size = struct.unpack(">Q", self._read_exactly(8))[0]
        return first & 0x0F, self._read_exactly(size)

    def recv_message(self):
        """The next data message; raises WebSocketClosed on a close frame."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise WebSocketClosed(code, payload[2:].decode("utf-8", "replace"))
            if opcode in (0x1, 0x2):
                return payload

    def recv_bytes(self, size):
        data = b""
        while len(data) < size:
            data += self.recv_message()
        return data

    def close(self, code=1000):
        self.sock.sendall(encode_frame(0x8, struct.pack(">H", code)))

    def wait_closed(self):
        """Read until the server's close frame; its close code."""
        try:
            while True:
                self.recv_message()
        except WebSocketClosed as closed:
            return closed.code

    def at_eof(self):
        """True once the server closed the TCP connection (reads until EOF)."""
        try:
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        return True

    def disconnect(self):
        self.sock.close()


def read_to_eof(sock):
    """Everything the peer sends until it closes; ConnectionResetError if it resets."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(data), size))
        data += chunk
    return data


def echo(conn, backend):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def recording_echo(conn, backend):
    """echo, keeping what it received in backend.requests (a serial port whose guest
    echoes, a SPICE server that answers in kind)."""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        backend.requests.append(data)
        conn.sendall(data)


def greet_then_echo(greeting):
    def handler(conn, backend):
        conn.sendall(greeting)
        echo(conn, backend)
    return handler


def say_and_hang_up(message):
    def handler(conn, backend):
        conn.sendall(message)
    return handler


def connect_handshake(expected_path, then=echo, greeting=b"RFB 003.008\n"):
    """A console server behind an HTTP CONNECT gateway: 200 and the greeting in one
    write for expected_path, 404 otherwise."""
    def handler(conn, backend):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        backend.requests.append(head)
        if head.startswith(b"CONNECT %s HTTP/1.1\r\n" % expected_path.encode()):
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Test: yes\r\n\r\n" + greeting)
            then(conn, backend)
        else:
            conn.sendall(b"HTTP/1.1 404 Not Found\r\n\r\n")
    return handler


class Backend:
    """A TCP console server on 127.0.0.1 running handler(conn, backend) for each
    connection in a thread of its own."""

    def __init__(self, handler=echo):
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests = []
        self.ended = threading.Event()
        self.ended_count = 0
        self._lock = threading.Lock()
        self._socks = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()
            with self._lock:
                self.ended_count += 1
            self.ended.set()

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self._lock:
            socks = list(self._socks)
        for conn in socks:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeTokenChecker:
    """Stands in for consoleauth's check_token."""

    def __init__(self):
        self.tokens = {}
        self.error = None
        self.calls = []
        self.warmed_up = threading.Event()

    def warm_up(self, ctxt):
        self.warmed_up.set()

    def add(self, port, token=None, **info):
        token = token or base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")
        connect_info = {"console_type": "novnc", "host": "127.0.0.1", "port": port,
                        "tls_port": None, "internal_access_path": None,
                        "instance_uuid": str(uuid.uuid4()),
                        "access_url_base": "http://127.0.0.1/vnc_lite.html",
                        "expires": time.time() + 600}
        connect_info.update(info)
        self.tokens[token] = connect_info
        return token

    def check_token(self, ctxt, token):
        """A ConnectInfo-like object (what consoleauth's RPC client returns), or None."""
        self.calls.append(token)
        if self.error is not None:
            raise self.error
        info = self.tokens.get(token)
        return None if info is None else types.SimpleNamespace(**info)
