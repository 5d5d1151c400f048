"""RFC 6455 for the server side of a console proxy: the upgrade request's checks,
the accept key, and the frame codec.

The proxy checks an upgrade request completely (check_upgrade_request) before it
does any work for it (a token check, a connection to a console server), and
answers 101 only once that work succeeded: so its checks stand apart from the
answer (accept_key), unlike websockify's accept(), which does both at once.

Client frames are held to the RFC strictly: they must be masked, with reserved
bits clear; control frames short and unfragmented; data in binary frames (the
consoles speak binary). A message (a frame, or the fragments of one message)
larger than the reader's limit is refused as soon as its header arrives, before
its payload is read. FrameReader parses frames where they were read and unmasks
their payloads into any buffer (the relay's lent buffers), joined, so that many
frames become one write to the console server.
"""
import base64
import binascii
import hashlib
import struct
import sys

try:  # numpy unmasks at memory speed; the fallback is several times slower
    import numpy
except ImportError:  # pragma: no cover - numpy is installed with the project
    numpy = None

# Sec-WebSocket-Version values accepted (13 is RFC 6455; 7 and 8 its drafts, which
# frame data the same way).
VERSIONS = ("7", "8", "13")
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)

# Close status codes (RFC 6455, section 7.4.1).
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009

# Largest frame header the server sends (2 + 8 length bytes), and the largest a
# client sends (2 + 8 length bytes + 4 mask bytes).
MAX_SERVER_HEADER = 10
MAX_CLIENT_HEADER = 14

# Largest message a client may send by default. RFB and serial clients send small
# messages (keys, pointer events, clipboard text).
MAX_MESSAGE_BYTES = 1024 * 1024

# Payloads shorter than this are unmasked in Python (numpy's call costs more).
_NUMPY_MIN_BYTES = 256


class HandshakeError(ValueError):
    """An upgrade request this server does not accept (answered 400)."""


def check_upgrade_request(headers, subprotocols):
    """The subprotocol to answer with (None if the client offered none), after
    checking everything an upgrade request must have; HandshakeError otherwise.

    headers: the request's headers (an email.message.Message, as http.server
    parses them); subprotocols: those this server speaks, preferred first.
    """
    if headers.get("Sec-WebSocket-Version") not in VERSIONS:
        raise HandshakeError("unsupported WebSocket version")
    key = headers.get("Sec-WebSocket-Key")
    if not key:
        raise HandshakeError("missing Sec-WebSocket-Key")
    try:
        valid_key = len(base64.b64decode(key.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        valid_key = False
    if not valid_key:
        raise HandshakeError("invalid Sec-WebSocket-Key")
    offered = headers.get("Sec-WebSocket-Protocol")
    if not offered:
        return None
    names = [name.strip() for name in offered.split(",")]
    chosen = next((name for name in subprotocols if name in names), None)
    if chosen is None:
        raise HandshakeError("WebSocket subprotocol not supported: this proxy speaks %s"
                             % ", ".join(subprotocols))
    return chosen


def accept_key(key):
    """Sec-WebSocket-Accept for the request's Sec-WebSocket-Key."""
    digest = hashlib.sha1((key.strip() + _GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def frame_header(opcode, length):
    """Header of a final, unmasked (server to client) frame."""
    if length < 126:
        return struct.pack("!BB", 0x80 | opcode, length)
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def close_frame(code, reason=""):
    """A close frame; the reason is cut to fit a control frame (125 bytes)."""
    payload = struct.pack("!H", code) + reason.encode("utf-8", "replace")[:123]
    return frame_header(OP_CLOSE, len(payload)) + payload


def close_code_to_echo(payload):
    """The status code to answer a client's close frame with (RFC 6455, 5.5.1)."""
    if len(payload) < 2:
        return CLOSE_NORMAL
    code = struct.unpack("!H", payload[:2])[0]
    if 1000 <= code < 5000 and code not in (1004, 1005, 1006, 1015):
        return code
    return CLOSE_PROTOCOL_ERROR


def unmask_into(src, start, end, key, phase, dst, at):
    """XOR src[start:end] with the 4-byte mask key into dst[at:], the first byte
    of the range being byte number `phase` of the frame's payload. dst may be src
    (at <= start)."""
    size = end - start
    if size <= 0:
        return
    shift = phase & 3
    if shift:
        key = key[shift:] + key[:shift]
    if numpy is not None and size >= _NUMPY_MIN_BYTES:
        words = size >> 2
        numpy.bitwise_xor(numpy.frombuffer(src, numpy.uint32, words, start),
                          numpy.frombuffer(key, numpy.uint32)[0],
                          out=numpy.frombuffer(dst, numpy.uint32, words, at))
        for i in range(words << 2, size):
            dst[at + i] = src[start + i] ^ key[i & 3]
        return
    keystream = key * ((size >> 2) + 1)
    masked = int.from_bytes(src[start:end], sys.byteorder)
    dst[at:at + size] = (masked ^ int.from_bytes(keystream[:size], sys.byteorder)).to_bytes(
        size, sys.byteorder)


class MessageTooBig(Exception):
    """The client announced a WebSocket message larger than the limit."""

    code = CLOSE_MESSAGE_TOO_BIG

    def __init__(self, size, limit):
        super().__init__("WebSocket message of %d bytes exceeds the limit of %d bytes"
                         % (size, limit))
        self.size = size


class ProtocolError(Exception):
    """The client broke RFC 6455 (or sent data the console cannot take)."""

    def __init__(self, reason, code=CLOSE_PROTOCOL_ERROR):
        super().__init__(reason)
        self.code = code


class FrameReader:
    """Incremental parser of client frames.

    feed() takes a buffer whose first bytes are the ones handed back by
    take_leftover() (an incomplete header from the previous read) followed by
    newly read bytes, and writes the data payloads, unmasked and joined, to an
    output buffer (or to the front of the same buffer).
    """

    def __init__(self, max_message_bytes=MAX_MESSAGE_BYTES, data_opcode=OP_BINARY):
        self.max_message_bytes = max_message_bytes
        self.data_opcode = data_opcode  # the frames console bytes come in (the other: 1003)
        self._leftover = b""     # incomplete frame header
        self._in_frame = False
        self._opcode = None
        self._key = b""
        self._left = 0           # payload bytes of the current frame still to come
        self._done = 0           # payload bytes of the current frame already seen
        self._control = None     # payload of the current control frame
        self._message = 0        # size of the current data message so far
        self._fragmented = False  # a data message is open (its last frame not seen)

    def give_back_leftover(self, buf, size):
        """Undo take_leftover(buf) that returned `size` (the read found nothing)."""
        if size:
            self._leftover = bytes(buf[:size])

    def take_leftover(self, buf):
        size = len(self._leftover)
        if size:
            buf[:size] = self._leftover
            self._leftover = b""
        return size

    def feed(self, buf, end, out=None):
        """Parse buf[:end]; returns (n, controls): the data payloads, unmasked, are
        at out[:n] (out is buf itself when not given), controls the (opcode,
        payload) of the control frames that completed."""
        if out is None:
            out = buf
        pos = written = 0
        controls = []
        while pos < end:
            if not self._in_frame:
                header_size = self._start_frame(buf, pos, end)
                if header_size is None:
                    self._leftover = bytes(buf[pos:end])
                    break
                pos += header_size
                if self._left == 0:
                    self._end_frame(controls)
                    if controls and controls[-1][0] == OP_CLOSE:
                        break
                continue
            take = min(self._left, end - pos)
            if self._control is None:
                unmask_into(buf, pos, pos + take, self._key, self._done, out, written)
                written += take
            else:
                control = bytearray(take)
                unmask_into(buf, pos, pos + take, self._key, self._done, control, 0)
                self._control += control
            pos += take
            self._left -= take
            self._done += take
            if self._left == 0:
                self._end_frame(controls)
                if controls and controls[-1][0] == OP_CLOSE:
                    break  # nothing after a close frame counts
        return written, controls

    def _start_frame(self, buf, pos, end):
        """Parse the header at buf[pos:]; its size, or None while incomplete."""
        available = end - pos
        if available < 2:
            return None
        first, second = buf[pos], buf[pos + 1]
        length = second & 0x7F
        size = 2
        if length == 126:
            size = 4
        elif length == 127:
            size = 10
        if available < size:
            return None
        if size == 4:
            length = struct.unpack_from("!H", buf, pos + 2)[0]
        elif size == 10:
            length = struct.unpack_from("!Q", buf, pos + 2)[0]
        fin, opcode = first & 0x80, first & 0x0F
        if first & 0x70:
            raise ProtocolError("reserved bits set (no extension was negotiated)")
        if not second & 0x80:
            raise ProtocolError("client frames must be masked")
        if opcode in CONTROL_OPCODES:
            if not fin or length > 125:
                raise ProtocolError("control frames must be final and at most 125 bytes")
        elif opcode in (OP_TEXT, OP_BINARY) and opcode != self.data_opcode:
            raise ProtocolError(
                "text frames are not supported: the console speaks binary"
                if opcode == OP_TEXT else "binary frames are not supported: this session "
                "carries base64 text", CLOSE_UNSUPPORTED_DATA)
        elif opcode == self.data_opcode or opcode == OP_CONTINUATION:
            if (opcode == OP_CONTINUATION) != self._fragmented:
                raise ProtocolError("unexpected continuation frame" if opcode == OP_CONTINUATION
                                    else "new message before the last one ended")
            total = length + (self._message if opcode == OP_CONTINUATION else 0)
            if total > self.max_message_bytes:
                raise MessageTooBig(total, self.max_message_bytes)
        else:
            raise ProtocolError("unknown opcode %d" % opcode)
        if available < size + 4:
            return None  # parsed again, from the start, once the mask key is in
        if opcode not in CONTROL_OPCODES:
            self._message = total
            self._fragmented = not fin
        self._key = bytes(buf[pos + size:pos + size + 4])
        self._in_frame = True
        self._opcode = opcode
        self._left = length
        self._done = 0
        self._control = bytearray() if opcode in CONTROL_OPCODES else None
        return size + 4

    def _end_frame(self, controls):
        if self._control is not None:
            controls.append((self._opcode, bytes(self._control)))
        self._in_frame = False
        self._control = None
