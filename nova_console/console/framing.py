"""The client side of a console session: its socket, how its bytes are framed,
and a socket-like stream over it for the steps that run before the relay.

A front (fronts.py) picks the framing of its clients: WebSocketFraming (noVNC,
spice-html5, serial consoles in a browser: every message in a binary frame),
Base64Framing (the WebSocket subprotocol 'base64' a serial console page may ask
for: the console's bytes base64-encoded in text frames) or RawFraming (the XVP
proxy's Java viewers: the console's own bytes, as they are).
The relay (relay.py) asks the framing for what differs and does the rest the same
way for every console: back-pressure, splice, limits, the end of the session.

ClientStream is what a negotiator (negotiator.py) talks to the client through,
as through a socket (recv, recv_exactly, sendall), whatever the framing; what it
has read and not handed out yet (decoded console bytes, and bytes the request
parser read past the request) goes on to the relay, so nothing is lost.
"""
import binascii

from nova_console.console import buffers
from nova_console.console import concurrency
from nova_console.console import websocket

# Bytes a ClientStream asks of the socket per read during a negotiation.
_NEGOTIATION_READ_SIZE = 65536


class WebSocketFraming:
    """The client speaks RFC 6455: the console's bytes travel in binary frames."""

    name = "websocket"
    # Room the relay keeps in front of console bytes for a frame header.
    header_room = websocket.MAX_SERVER_HEADER
    # The longest header before a client's data (the relay keeps it between reads).
    client_header_room = websocket.MAX_CLIENT_HEADER
    # None: the console's bytes go as they are, behind data_header() (and may be
    # spliced); else frame(data) makes the whole frame and decode(payload) gives
    # back the console bytes of the client's frames.
    decode = None

    def __init__(self, max_message_bytes=websocket.MAX_MESSAGE_BYTES):
        self.reader = websocket.FrameReader(max_message_bytes)

    @staticmethod
    def data_header(size):
        return websocket.frame_header(websocket.OP_BINARY, size)

    def frame(self, data):
        return self.data_header(len(data)) + data

    @staticmethod
    def pong(payload):
        return websocket.frame_header(websocket.OP_PONG, len(payload)) + payload

    @staticmethod
    def goodbye(code, reason):
        """What tells the client the session ends: a close frame."""
        return websocket.close_frame(code, reason)


class Base64Framing(WebSocketFraming):
    """WebSocket subprotocol 'base64' (a serial console page may prefer it): the
    console's bytes travel base64-encoded in text frames, each frame encoded on
    its own. The client's text may split anywhere (even inside a 4-character
    group, which waits for the rest); text that is not base64 ends the session
    with 1007."""

    name = "websocket-base64"

    def __init__(self, max_message_bytes=websocket.MAX_MESSAGE_BYTES):
        # A message's text is 4/3 the size of the bytes it carries.
        self.reader = websocket.FrameReader(max_message_bytes * 4 // 3 + 4,
                                            data_opcode=websocket.OP_TEXT)
        self._carry = b""  # the start of an incomplete 4-character group

    def frame(self, data):
        text = binascii.b2a_base64(data, newline=False)
        return websocket.frame_header(websocket.OP_TEXT, len(text)) + text

    def decode(self, text):
        """The bytes of base64 `text`, a piece of the client's text frames."""
        data = self._carry + bytes(text)
        whole = len(data) - len(data) % 4
        self._carry = data[whole:]
        # Frames are encoded one by one, so padding may end any group: decode up
        # to each padded group on its own (a whole-string decode stops at the first).
        pieces, start = [], 0
        while start < whole:
            pad = data.find(b"=", start, whole)
            end = whole if pad < 0 else (pad // 4 + 1) * 4
            try:
                pieces.append(binascii.a2b_base64(data[start:end], strict_mode=True))
            except binascii.Error as exc:
                raise websocket.ProtocolError("text is not base64: %s" % exc,
                                              websocket.CLOSE_INVALID_PAYLOAD) from None
            start = end
        return b"".join(pieces)


# The framing of each WebSocket subprotocol a proxy may speak (None: none asked).
SUBPROTOCOL_FRAMINGS = {None: WebSocketFraming, "binary": WebSocketFraming,
                        "base64": Base64Framing}


class RawFraming:
    """The client speaks the console's protocol itself (after an HTTP CONNECT)."""

    name = "raw"
    header_room = 0
    client_header_room = 0
    # None: the client's bytes go to the console as they are.
    reader = None
    decode = None

    @staticmethod
    def data_header(size):
        return b""

    @staticmethod
    def frame(data):
        return data

    @staticmethod
    def goodbye(code, reason):
        return b""  # a raw stream ends by its TCP connection closing


class ClientClosed(ConnectionError):
    """The client ended the session (EOF, or a WebSocket close frame)."""


class ClientStream:
    """The client of one session: `sock` (a green socket), its `framing`, and the
    bytes already read from it; `write_lock` serialises every write to it."""

    def __init__(self, sock, framing, unread=b""):
        self.sock = sock
        self.framing = framing
        self.write_lock = concurrency.Lock()
        self._unread = unread  # read from the socket, not yet decoded
        self._decoded = b""    # decoded console bytes not yet handed out
        self.close_code = None  # the code of the client's close frame, once it sent one

    # -- socket-like, for negotiators -----------------------------------------------

    def recv(self, size):
        """Up to `size` console bytes from the client; ClientClosed once it ended."""
        while not self._decoded:
            self._read_more()
        data, self._decoded = self._decoded[:size], self._decoded[size:]
        return data

    def recv_exactly(self, size):
        data = b""
        while len(data) < size:
            data += self.recv(size - len(data))
        return data

    def sendall(self, data):
        """Send console bytes to the client (in one frame, for a WebSocket)."""
        with self.write_lock:
            self.sock.sendall(self.framing.frame(data))

    def _read_more(self):
        raw, self._unread = self._unread, b""
        if not raw:
            raw = self.sock.recv(_NEGOTIATION_READ_SIZE)
            if not raw:
                raise ClientClosed("the client closed the connection")
        reader = self.framing.reader
        if reader is None:
            self._decoded += raw
            return
        buf = bytearray(self.framing.client_header_room + len(raw))
        start = reader.take_leftover(buf)
        buf[start:start + len(raw)] = raw
        size, controls = reader.feed(buf, start + len(raw))
        data = bytes(buf[:size])
        self._decoded += self.framing.decode(data) if self.framing.decode else data
        for opcode, payload in controls:
            if opcode == websocket.OP_PING:
                with self.write_lock:
                    self.sock.sendall(self.framing.pong(payload))
            elif opcode == websocket.OP_CLOSE:
                self.close_code = websocket.close_code_to_echo(payload)
                raise ClientClosed("the client closed the WebSocket")

    # -- for the relay ----------------------------------------------------------------

    def take_pending(self):
        """(decoded console bytes, raw bytes not decoded yet) that the stream holds;
        the relay sends the first to the console and decodes the second."""
        pending = (self._decoded, self._unread)
        self._decoded = self._unread = b""
        return pending

    def shutdown(self):
        buffers.shutdown_quietly(self.sock)
