"""A small hand-written WebSocket client (RFC 6455) and RFB client (RFC 6143) for tests.

It does exactly what a console client does on the wire, and nothing more, so a
test can see what the proxy answers: the raw HTTP status of the upgrade, the
bytes of a refusal, and the RFB greeting and ServerInit relayed from the VM.

    conn = ConsoleConnection.open(url_or_token, proxy_port, origin=...)   # noVNC's way
    conn = ConsoleConnection.open_xvp(console_url)    # a Java viewer's HTTP CONNECT
    conn = ConsoleConnection.open_direct(host, port)  # plain RFB, no proxy
    conn.status          -> 101 (200 for CONNECT), or the refusal's status (403, ...)
    conn.read_rfb_version()        -> b"RFB 003.008\\n"
    conn.rfb_handshake()           -> ServerInit(width, height, pixel_format, name)
    conn.read_framebuffer(server_init) -> the whole screen's pixels, Raw encoding
"""
import base64
import collections
import hashlib
import os
import socket
import struct
import urllib.parse

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RFB_VERSION_3_8 = b"RFB 003.008\n"
MAX_HEAD_BYTES = 65536

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

ServerInit = collections.namedtuple("ServerInit", "width height pixel_format name")


def distinct_colours(pixels, server_init):
    """The distinct pixel values of a screen read by read_framebuffer()."""
    size = server_init.pixel_format[0] // 8
    return {pixels[i:i + size] for i in range(0, len(pixels), size)}


SPICE_MAGIC = b"REDQ"
SPICE_CHANNEL_MAIN = 1
SPICE_LINK_MESS_SIZE = 18  # where the capabilities would start, after the link message


class WebSocketClosed(Exception):
    """The server closed the WebSocket (or the TCP connection) before we had enough bytes."""


def token_from_console_url(url):
    """The token in a console URL: `...vnc_lite.html?path=%3Ftoken%3D<token>`."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for inner in query.get("path", []):
        tokens = urllib.parse.parse_qs(urllib.parse.urlsplit(inner).query).get("token")
        if tokens:
            return tokens[0]
    tokens = query.get("token")
    if tokens:
        return tokens[0]
    raise ValueError("no console token in URL %r" % url)


def websocket_path_from_console_url(url):
    """What noVNC's vnc_lite.html connects to for this URL: '/' + its path= parameter."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return "/" + query.get("path", ["websockify"])[0]


def _recv_head(sock):
    """(head bytes, bytes read past it): an HTTP response head through its blank line."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise AssertionError("HTTP response head longer than %d bytes" % MAX_HEAD_BYTES)
        chunk = sock.recv(4096)
        if not chunk:
            raise WebSocketClosed("connection closed before the end of the response head "
                                  "(got %r)" % data[:200])
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def _parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    words = lines[0].split(" ", 2)
    status = int(words[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


class ConsoleConnection:
    """One request to a console proxy; once accepted, a byte stream to the console
    (WebSocket frames when `framed`, the console's own bytes otherwise). When the
    proxy accepted the 'base64' subprotocol, console bytes travel base64-encoded in
    text frames, each way."""

    def __init__(self, sock, status, headers, leftover, framed=True):
        self.sock = sock
        self.status = status
        self.headers = headers
        self.framed = framed
        self._frame_buffer = leftover  # raw bytes not yet parsed into frames
        self._data = b""  # payload bytes not yet handed to the caller
        self.closed_by_server = False
        self.base64 = headers.get("sec-websocket-protocol") == "base64"

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path, port, host="127.0.0.1", origin="default", subprotocol="binary",
             upgrade=True, timeout=15.0, extra_headers=()):
        """Send the request for `path` (e.g. '/?token=...') and read the answer's head.

        origin "default" is http://<host>:<port>, what a browser that loaded the page
        from the proxy sends; None sends no Origin header.
        """
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port)]
            if upgrade:
                lines += ["Upgrade: websocket", "Connection: Upgrade",
                          "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
                if subprotocol:
                    lines.append("Sec-WebSocket-Protocol: %s" % subprotocol)
            if origin == "default":
                origin = "http://%s:%d" % (host, port)
            if origin is not None:
                lines.append("Origin: %s" % origin)
            lines.extend(extra_headers)
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            head, leftover = _recv_head(sock)
            status, headers = _parse_head(head)
            conn = cls(sock, status, headers, leftover)
            if status == 101:
                expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + WEBSOCKET_GUID)
                                            .digest()).decode("ascii")
                accept = headers.get("sec-websocket-accept")
                if accept != expected:
                    raise AssertionError("bad Sec-WebSocket-Accept %r (expected %r)"
                                         % (accept, expected))
            return conn
        except BaseException:
            sock.close()
            raise

    @classmethod
    def open_xvp(cls, url, timeout=15.0):
        """What nova-xvpvncviewer does with its console URL: 'CONNECT <path>?<query>
        HTTP/1.0' and a blank line, the answer's head read through its blank line;
        RFB follows on the same socket."""
        parts = urllib.parse.urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        try:
            sock.sendall(b"CONNECT %s?%s HTTP/1.0\r\n\r\n" % (parts.path.encode(),
                                                              parts.query.encode()))
            head, leftover = _recv_head(sock)
            status, headers = _parse_head(head)
            conn = cls(sock, status, headers, leftover, framed=False)
            conn.first_line = head.split(b"\r\n", 1)[0]
            return conn
        except BaseException:
            sock.close()
            raise

    @classmethod
    def open_direct(cls, host, port, timeout=15.0):
        """Plain RFB straight to a VNC server (no proxy): what a proxy must relay."""
        return cls(socket.create_connection((host, port), timeout=timeout), None, {}, b"",
                   framed=False)

    @classmethod
    def open_console_url(cls, url, port, **kwargs):
        """Open the WebSocket noVNC would open for a console URL handed out by the API."""
        return cls.open(websocket_path_from_console_url(url), port, **kwargs)

    def read_refusal_body(self):
        """Everything the server sends after a refusal's head, until it closes (max 64 KiB)."""
        data = self._frame_buffer
        self._frame_buffer = b""
        self.sock.settimeout(5)
        try:
            while len(data) < MAX_HEAD_BYTES:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionError):
            pass
        return data

    def close(self):
        if self.framed and self.status == 101 and not self.closed_by_server:
            try:
                self._send_frame(OP_CLOSE, struct.pack(">H", 1000))
            except OSError:
                pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- frames --------------------------------------------------------------------

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _raw(self, count):
        while len(self._frame_buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed_by_server = True
                raise WebSocketClosed("TCP connection closed by the proxy")
            self._frame_buffer += chunk
        data, self._frame_buffer = self._frame_buffer[:count], self._frame_buffer[count:]
        return data

    def _read_frame(self):
        first, second = self._raw(2)
        opcode = first & 0x0F
        if second & 0x80:
            raise AssertionError("the server sent a masked frame (RFC 6455 5.1 forbids it)")
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", self._raw(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", self._raw(8))
        return opcode, self._raw(length)

    def send(self, data):
        """Send console bytes (in one binary frame, when framed)."""
        if self.base64:
            self._send_frame(OP_TEXT, base64.b64encode(data))
        elif self.framed:
            self._send_frame(OP_BINARY, data)
        else:
            self.sock.sendall(data)

    def recv_exact(self, count):
        """Exactly `count` console bytes, across as many frames as needed."""
        if not self.framed:
            return self._raw(count)
        while len(self._data) < count:
            opcode, payload = self._read_frame()
            if opcode in (OP_BINARY, OP_CONTINUATION):
                self._data += payload
            elif opcode == OP_TEXT and self.base64:
                self._data += base64.b64decode(payload, validate=True)
            elif opcode == OP_TEXT:
                raise AssertionError("the proxy sent a text frame: %r" % payload[:100])
            elif opcode == OP_PING:
                self._send_frame(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self.closed_by_server = True
                raise WebSocketClosed("the proxy closed the WebSocket: %r" % payload[:100])
        data, self._data = self._data[:count], self._data[count:]
        return data

    # -- RFB -----------------------------------------------------------------------

    def read_rfb_version(self):
        """The server's ProtocolVersion message (12 bytes)."""
        return self.recv_exact(12)

    def rfb_handshake(self, shared=True):
        """ProtocolVersion 3.8, security None, ClientInit; the server's ServerInit."""
        version = self.read_rfb_version()
        if version != RFB_VERSION_3_8:
            raise AssertionError("unexpected RFB version %r" % version)
        self.send(RFB_VERSION_3_8)
        (count,) = self.recv_exact(1)
        if count == 0:
            (length,) = struct.unpack(">I", self.recv_exact(4))
            raise AssertionError("the VNC server refused us: %r" % self.recv_exact(length))
        types = list(self.recv_exact(count))
        if 1 not in types:
            raise AssertionError("security type None not offered: %r" % types)
        self.send(b"\x01")
        (result,) = struct.unpack(">I", self.recv_exact(4))
        if result != 0:
            raise AssertionError("SecurityResult %d" % result)
        self.send(b"\x01" if shared else b"\x00")
        width, height = struct.unpack(">HH", self.recv_exact(4))
        pixel_format = self.recv_exact(16)
        (name_length,) = struct.unpack(">I", self.recv_exact(4))
        name = self.recv_exact(name_length).decode("utf-8")
        return ServerInit(width, height, pixel_format, name)

    # -- SPICE ---------------------------------------------------------------------

    def spice_link(self, channel_type=SPICE_CHANNEL_MAIN):
        """Send a SPICE link message (protocol 2.2, a channel of `channel_type`, no
        capabilities); the error code of the server's link reply (0: it takes it)."""
        body = struct.pack("<IBBIII", 0, channel_type, 0, 0, 0, SPICE_LINK_MESS_SIZE)
        self.send(SPICE_MAGIC + struct.pack("<III", 2, 2, len(body)) + body)
        magic = self.recv_exact(4)
        if magic != SPICE_MAGIC:
            raise AssertionError("not a SPICE link reply: %r" % magic)
        major, _minor, size = struct.unpack("<III", self.recv_exact(12))
        if major != 2:
            raise AssertionError("SPICE protocol %d, not 2" % major)
        return struct.unpack("<I", self.recv_exact(size)[:4])[0]

    def read_framebuffer(self, server_init):
        """The whole screen in one FramebufferUpdate, Raw encoding: its pixel bytes,
        row after row (rectangles placed where the server says)."""
        bytes_per_pixel = server_init.pixel_format[0] // 8
        row = server_init.width * bytes_per_pixel
        screen = bytearray(row * server_init.height)
        self.send(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw only
        self.send(struct.pack(">BBHHHH", 3, 0, 0, 0, server_init.width, server_init.height))
        (message_type,) = self.recv_exact(1)
        assert message_type == 0, "expected a FramebufferUpdate, got message %d" % message_type
        (rectangles,) = struct.unpack(">xH", self.recv_exact(3))
        for _ in range(rectangles):
            x, y, width, height, encoding = struct.unpack(">HHHHi", self.recv_exact(12))
            assert encoding == 0, "asked for Raw, got encoding %d" % encoding
            pixels = self.recv_exact(width * height * bytes_per_pixel)
            for line in range(height):
                start = (y + line) * row + x * bytes_per_pixel
                screen[start:start + width * bytes_per_pixel] = pixels[
                    line * width * bytes_per_pixel:(line + 1) * width * bytes_per_pixel]
        return bytes(screen)
