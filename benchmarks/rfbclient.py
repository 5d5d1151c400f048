"""The benchmark's own RFB clients, for the figures ../shared/bench's wsclient.py does
not measure: client -> server throughput with masked frames, thousands of idle
sessions held by one client process, and both directions through the XVP proxy
(raw RFB after an HTTP CONNECT, which wsclient.py does not speak). Standard
library only.

A session is the real thing: TCP, the WebSocket upgrade with a console token (or
a Java viewer's CONNECT /console?token=..., or plain RFB for direct TCP), then
RFB 3.8 up to ServerInit.
"""
import base64
import errno
import os
import selectors
import socket
import struct
import time
import urllib.parse

CLIENT_CUT_TEXT = 6
FRAMEBUFFER_UPDATE_REQUEST = 3
# Each client message is one ClientCutText of this many bytes in all (one 64 KiB
# WebSocket frame, like a browser sending a large clipboard in pieces).
MESSAGE_BYTES = 64 * 1024


def mask_frame(payload, key=None, opcode=0x2):
    """A final client frame, binary unless `opcode` says otherwise (masked, as RFC 6455
    requires of clients)."""
    key = key or os.urandom(4)
    size = len(payload)
    first = 0x80 | opcode
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    stream = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")
    return header + key + masked


def upgrade_request(url, origin=None, protocol="binary"):
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: %s\r\n\r\n"
            % (path, parts.netloc, origin or "http://" + parts.netloc, key,
               protocol)).encode()


class Session:
    """A blocking RFB session, over a WebSocket (url), plain TCP (host, port), or
    the XVP proxy (xvp_url: CONNECT first, then plain RFB)."""

    def __init__(self, url=None, tcp=None, xvp_url=None, timeout=30.0):
        self.ws = url is not None
        if self.ws or xvp_url:
            parts = urllib.parse.urlsplit(url or xvp_url)
            address = (parts.hostname, parts.port)
        else:
            address = tcp
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self._frame_left = 0
        if self.ws:
            self.sock.sendall(upgrade_request(url))
            self._expect_status(b"101")
        elif xvp_url:
            self.sock.sendall(b"CONNECT %s?%s HTTP/1.0\r\n\r\n" % (parts.path.encode(),
                                                                   parts.query.encode()))
            self._expect_status(b"200")
        self._handshake()

    def _expect_status(self, status):
        head = self._raw_until(b"\r\n\r\n")
        if b" %s " % status not in head.split(b"\r\n", 1)[0] + b" ":
            raise ConnectionError("refused: %r" % head[:200])

    def _raw_more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self._buf += chunk

    def _raw_until(self, marker):
        while marker not in self._buf:
            self._raw_more()
        head, self._buf = self._buf.split(marker, 1)
        return head

    def _raw_exact(self, size):
        while len(self._buf) < size:
            self._raw_more()
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def recv_exact(self, size):
        if not self.ws:
            return self._raw_exact(size)
        out = b""
        while len(out) < size:
            if not self._frame_left:
                first, second = self._raw_exact(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._raw_exact(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._raw_exact(8))[0]
                if first & 0x0F == 0x8:
                    raise ConnectionError("WebSocket closed by the server")
                if first & 0x0F not in (0x0, 0x2):
                    self._raw_exact(length)
                    continue
                self._frame_left = length
                continue
            take = min(size - len(out), self._frame_left)
            out += self._raw_exact(take)
            self._frame_left -= take
        return out

    def send(self, data):
        self.sock.sendall(mask_frame(data) if self.ws else data)

    def _handshake(self):
        version = self.recv_exact(12)
        if not version.startswith(b"RFB 003."):
            raise ConnectionError("not RFB: %r" % version)
        self.send(b"RFB 003.008\n")
        count = self.recv_exact(1)[0]
        if 1 not in self.recv_exact(count):
            raise ConnectionError("security None not offered")
        self.send(b"\x01")
        if struct.unpack("!I", self.recv_exact(4))[0] != 0:
            raise ConnectionError("security refused")
        self.send(b"\x01")
        self.width, self.height = struct.unpack("!HH", self.recv_exact(4))
        self.bytes_per_pixel = self.recv_exact(16)[0] // 8
        self.recv_exact(struct.unpack("!I", self.recv_exact(4))[0])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_to_server_throughput(url=None, tcp=None, xvp_url=None, seconds=2.0, batch=16):
    """MB/s (10^6 bytes of RFB payload per second) the client gets to the VNC server:
    back-to-back ClientCutText messages of MESSAGE_BYTES, masked WebSocket frames
    through a proxy (each precomputed once, so the client's cost is one sendall),
    plain bytes over direct TCP. The clock stops when the answer to a
    FramebufferUpdateRequest sent after the last message starts to arrive: the
    server reads in order, so by then it has consumed every byte."""
    session = Session(url=url, tcp=tcp, xvp_url=xvp_url)
    try:
        text = MESSAGE_BYTES - 8
        message = struct.pack("!BxxxI", CLIENT_CUT_TEXT, text) + bytes(range(256)) * (text // 256)
        message += b"x" * (MESSAGE_BYTES - len(message))
        unit = mask_frame(message) if session.ws else message
        burst = unit * batch
        request = struct.pack("!BBHHHH", FRAMEBUFFER_UPDATE_REQUEST, 0, 0, 0, 1, 1)
        sent = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            session.sock.sendall(burst)
            sent += batch * MESSAGE_BYTES
        session.send(request)
        session.recv_exact(1)
        elapsed = time.perf_counter() - started
    finally:
        session.close()
    return {"MBps": round(sent / 1e6 / elapsed, 1), "mbytes": round(sent / 1e6, 1),
            "seconds": round(elapsed, 3)}


def server_to_client_throughput(tcp=None, xvp_url=None, seconds=2.0):
    """MB/s of screen the client gets over plain RFB (direct TCP, a bare relay, the
    XVP proxy): as ../shared/bench's throughput test, one non-incremental full-screen
    FramebufferUpdateRequest at a time, each update read whole before the next."""
    session = Session(tcp=tcp, xvp_url=xvp_url)
    try:
        request = struct.pack("!BBHHHH", FRAMEBUFFER_UPDATE_REQUEST, 0, 0, 0,
                              session.width, session.height)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        received = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            session.send(request)
            header = session.recv_exact(4)  # FramebufferUpdate, its rectangle count
            for _ in range(struct.unpack("!xxH", header)[0]):
                _x, _y, width, height, _encoding = struct.unpack("!HHHHi",
                                                                 session.recv_exact(12))
                size = width * height * session.bytes_per_pixel
                buffered = min(size, len(session._buf))
                session._buf = session._buf[buffered:]
                left = size - buffered
                received += size
                while left > 0:
                    got = session.sock.recv_into(view[:min(left, len(buf))])
                    if not got:
                        raise ConnectionError("closed by the server")
                    left -= got
        elapsed = time.perf_counter() - started
    finally:
        session.close()
    return {"MBps": round(received / 1e6 / elapsed, 1), "seconds": round(elapsed, 3)}


class _IdleHandshake:
    """One non-blocking session handshake (upgrade, RFB to ServerInit), then idle."""

    def __init__(self, url):
        self.url = url
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        err = self.sock.connect_ex((parts.hostname, parts.port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        self.buf = b""
        self.out = upgrade_request(url)
        self.step = "upgrade"
        self.payload = b""
        self.done = False

    def _frames(self):
        """Move complete frame payloads from buf to payload."""
        while len(self.buf) >= 2:
            length, size = self.buf[1] & 0x7F, 2
            if length == 126:
                size = 4
            elif length == 127:
                size = 10
            if len(self.buf) < size:
                return
            if size == 4:
                length = struct.unpack("!H", self.buf[2:4])[0]
            elif size == 10:
                length = struct.unpack("!Q", self.buf[2:10])[0]
            if len(self.buf) < size + length:
                return
            if self.buf[0] & 0x0F == 0x8:
                raise ConnectionError("closed by the proxy")
            self.payload += self.buf[size:size + length]
            self.buf = self.buf[size + length:]

    def on_readable(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        self.buf += chunk
        if self.step == "upgrade":
            if b"\r\n\r\n" not in self.buf:
                return
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
                raise ConnectionError("upgrade refused: %r" % head[:100])
            self.step = "version"
        self._frames()
        if self.step == "version" and len(self.payload) >= 12:
            self.payload = self.payload[12:]
            self.out += mask_frame(b"RFB 003.008\n")
            self.step = "security"
        if self.step == "security" and self.payload and len(self.payload) >= 1 + self.payload[0]:
            self.payload = self.payload[1 + self.payload[0]:]
            self.out += mask_frame(b"\x01")
            self.step = "result"
        if self.step == "result" and len(self.payload) >= 4:
            self.payload = self.payload[4:]
            self.out += mask_frame(b"\x01")
            self.step = "init"
        if self.step == "init" and len(self.payload) >= 24:
            name_size = struct.unpack("!I", self.payload[20:24])[0]
            if len(self.payload) >= 24 + name_size:
                self.done = True

    def flush(self):
        if self.out:
            sent = self.sock.send(self.out)
            self.out = self.out[sent:]


def hold_idle_sessions(urls, in_flight=200, timeout=120.0):
    """Open one session per URL (at most in_flight handshakes at once) and keep them
    open. Returns (open sockets, errors, seconds)."""
    selector = selectors.DefaultSelector()
    pending = list(reversed(urls))
    opened, errors = [], []
    active = 0
    started = time.perf_counter()
    deadline = started + timeout
    while (pending or active) and time.perf_counter() < deadline:
        while pending and active < in_flight:
            try:
                handshake = _IdleHandshake(pending.pop())
            except OSError as exc:
                errors.append(repr(exc))
                continue
            selector.register(handshake.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                              handshake)
            active += 1
        for key, events in selector.select(timeout=1.0):
            handshake = key.data
            try:
                if events & selectors.EVENT_WRITE:
                    handshake.flush()
                if events & selectors.EVENT_READ:
                    handshake.on_readable()
                    handshake.flush()
            except (OSError, ConnectionError) as exc:
                errors.append(repr(exc))
                selector.unregister(handshake.sock)
                handshake.sock.close()
                active -= 1
                continue
            if handshake.done:
                selector.unregister(handshake.sock)
                opened.append(handshake.sock)
                active -= 1
            elif not handshake.out:
                selector.modify(handshake.sock, selectors.EVENT_READ, handshake)
            else:
                selector.modify(handshake.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                                handshake)
    for key in list(selector.get_map().values()):
        errors.append("handshake timed out")
        key.fileobj.close()
    selector.close()
    return opened, errors, time.perf_counter() - started
