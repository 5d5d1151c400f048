"""A real RFB 3.8 server (RFC 6143) showing one fake instance's screen.

The screen is a still image: a dark background, a thin frame, and the
instance name written large in the middle (see ``render_framebuffer``), so a
person or a test looking at a console can tell which instance it belongs to.

Only security type None is offered; pixels are always sent with the Raw
encoding, converted to whatever true-colour format the client asks for. The
server uses plain blocking sockets and one daemon thread per client, which
works the same in processes that eventlet has monkey-patched.
"""
import collections
import re
import socket
import struct
import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

SERVER_VERSION = b"RFB 003.008\n"
SECURITY_NONE = 1
MAX_CUT_TEXT = 1024 * 1024
_STOP_JOIN_TIMEOUT = 2.0

# ---------------------------------------------------------------------------
# Pixel formats
# ---------------------------------------------------------------------------

_PIXEL_FORMAT = struct.Struct(">BBBBHHHBBB3x")


class PixelFormat(collections.namedtuple(
        "PixelFormat", "bits_per_pixel depth big_endian true_colour "
                       "red_max green_max blue_max red_shift green_shift blue_shift")):
    """The 16-byte PIXEL_FORMAT structure of RFC 6143, section 7.4."""

    __slots__ = ()

    def pack(self):
        return _PIXEL_FORMAT.pack(self.bits_per_pixel, self.depth, int(bool(self.big_endian)),
                                  int(bool(self.true_colour)), self.red_max, self.green_max,
                                  self.blue_max, self.red_shift, self.green_shift,
                                  self.blue_shift)

    @classmethod
    def unpack(cls, data):
        return cls(*_PIXEL_FORMAT.unpack(data))

    def conversion_key(self):
        """What decides the bytes of a pixel (depth does not: the maxima say it all)."""
        return (self.bits_per_pixel, bool(self.big_endian), self.red_max, self.green_max,
                self.blue_max, self.red_shift, self.green_shift, self.blue_shift)


# What ServerInit announces: 32 bpp little-endian, bytes B, G, R, padding.
DEFAULT_PIXEL_FORMAT = PixelFormat(32, 24, 0, 1, 255, 255, 255, 16, 8, 0)

SUPPORTED_BITS_PER_PIXEL = (8, 16, 32)


def _pixel_bytes(rgb, pixel_format):
    """One colour as a pixel of `pixel_format`.

    A component c (0..255) becomes round(c * max / 255). Bits that no
    component uses are set, so the padding byte of a 32 bpp pixel is 0xFF:
    clients that read it as alpha (noVNC's Raw decoder can) draw opaque pixels.
    """
    bpp = pixel_format.bits_per_pixel
    all_bits = (1 << bpp) - 1
    value = 0
    used = 0
    for component, maximum, shift in zip(
            rgb,
            (pixel_format.red_max, pixel_format.green_max, pixel_format.blue_max),
            (pixel_format.red_shift, pixel_format.green_shift, pixel_format.blue_shift)):
        value |= ((component * maximum + 127) // 255) << shift
        used |= maximum << shift
    value = (value | (all_bits & ~used)) & all_bits
    return value.to_bytes(bpp // 8, "big" if pixel_format.big_endian else "little")


def _encode(indices, palette, pixel_format):
    """Pixels of `pixel_format` for a buffer of palette indices (one byte per pixel)."""
    size = pixel_format.bits_per_pixel // 8
    colours = [_pixel_bytes(rgb, pixel_format) for rgb in palette]
    out = bytearray(len(indices) * size)
    for byte in range(size):
        table = bytearray(256)
        for index, pixel in enumerate(colours):
            table[index] = pixel[byte]
        out[byte::size] = indices.translate(table)
    return bytes(out)


# ---------------------------------------------------------------------------
# The screen
# ---------------------------------------------------------------------------

# A 5x8 bitmap font for ASCII 32..126: 8 characters per glyph, one per row
# from the top, each a base-32 digit whose 5 bits are the columns (most
# significant bit on the left). Rows 0-6 hold capitals and digits; row 7 is
# for descenders.
_FONT_DATA = (
    "0000000044444040aaa00000aavavaa04fke5u40op248j30cik8lid044400000"  # space !"#$%&'
    "248884208422248004lel400044v440000000c48000v000000000cc001248g00"  # ()*+,-./
    "ehjlphe04c4444e0eh1248v0v2421he026aiv220vgu11he068guhhe0v1248880"  # 01234567
    "ehhehhe0ehhf12c00cc0cc000cc0cc48248g842000v0v00084212480eh124040"  # 89:;<=>?
    "eh1dlle0ehhvhhh0uhhuhhu0ehggghe0sihhhis0vgguggv0vgguggg0ehgnhhf0"  # @ABCDEFG
    "hhhvhhh0e44444e072222ic0hikokih0ggggggv0hrllhhh0hhpljhh0ehhhhhe0"  # HIJKLMNO
    "uhhuggg0ehhhlid0uhhukih0fgge11u0v4444440hhhhhhe0hhhhha40hhhllla0"  # PQRSTUVW
    "hha4ahh0hha44440v1248gv0e88888e00g842100e22222e04ah000000000000v"  # XYZ[\]^_
    "8420000000e1fhf0ggmphhu000egghe011djhhf000ehvge0698s888000fhhf1e"  # `abcdefg
    "ggmphhh040c444e0206222icggikoki0c44444e000qllhh000mphhh000ehhhe0"  # hijklmno
    "00uhhugg00fhhf1100mpggg000fge1u088s8896000hhhjd000hhha4000hhlla0"  # pqrstuvw
    "00ha4ah000hhhf1e00v248v0244844204444444084424480008l2000"  # xyz{|}~
)
GLYPH_WIDTH = 5
GLYPH_HEIGHT = 8
_ADVANCE = GLYPH_WIDTH + 1  # one blank column between characters


def _glyph_runs(row_bits):
    """(first, end) column ranges of the set bits of a 5-bit glyph row."""
    runs = []
    column = 0
    while column < GLYPH_WIDTH:
        if row_bits & (1 << (GLYPH_WIDTH - 1 - column)):
            start = column
            while column < GLYPH_WIDTH and row_bits & (1 << (GLYPH_WIDTH - 1 - column)):
                column += 1
            runs.append((start, column))
        else:
            column += 1
    return tuple(runs)


# character -> for each row, its runs of set pixels
_FONT = {
    chr(32 + n): tuple(_glyph_runs(int(digit, 32))
                       for digit in _FONT_DATA[n * GLYPH_HEIGHT:(n + 1) * GLYPH_HEIGHT])
    for n in range(95)
}

BACKGROUND = 0
FOREGROUND = 1
FRAME = 2
PALETTE = ((0x1c, 0x20, 0x2a),   # background: dark slate
           (0xf0, 0xf0, 0xe8),   # the name: near white
           (0x3d, 0x8b, 0xd9))   # frame: blue

MAX_SCALE = 6
MIN_SCALE = 2
_ELLIPSIS = "..."


def _printable(name):
    return "".join(ch if " " <= ch <= "~" else "?" for ch in name)


def _text_width(length, scale):
    return (length * _ADVANCE - 1) * scale if length else 0


def _fit_text(text, room_width, room_height):
    """The text to draw and its scale: as large as fits, shortened with '...' if need be."""
    for scale in range(MAX_SCALE, MIN_SCALE - 1, -1):
        if (_text_width(len(text), scale) <= room_width
                and GLYPH_HEIGHT * scale <= room_height):
            return text, scale
    scale = MIN_SCALE
    while scale > 1 and (GLYPH_HEIGHT * scale > room_height
                         or _text_width(len(_ELLIPSIS) + 1, scale) > room_width):
        scale -= 1
    fitting = max(0, (room_width // scale + 1) // _ADVANCE)
    if fitting < len(text):
        if fitting > len(_ELLIPSIS):
            text = text[:fitting - len(_ELLIPSIS)] + _ELLIPSIS
        else:
            text = _ELLIPSIS[:fitting]
    return text, scale


def _fill(indices, width, height, x0, y0, x1, y1, colour):
    """Paint the rectangle [x0, x1) x [y0, y1), clipped to the screen."""
    x0, x1 = max(0, x0), min(width, x1)
    y0, y1 = max(0, y0), min(height, y1)
    if x0 >= x1:
        return
    run = bytes((colour,)) * (x1 - x0)
    for y in range(y0, y1):
        offset = y * width
        indices[offset + x0:offset + x1] = run


def _draw_text(indices, width, height, text, left, top, scale):
    for position, ch in enumerate(text):
        glyph_left = left + position * _ADVANCE * scale
        for row, runs in enumerate(_FONT[ch]):
            row_top = top + row * scale
            for start, end in runs:
                _fill(indices, width, height, glyph_left + start * scale, row_top,
                      glyph_left + end * scale, row_top + scale, FOREGROUND)


def _render_indices(name, width, height):
    """The screen as one palette index per pixel, row by row."""
    indices = bytearray(width * height)  # all BACKGROUND
    frame = max(1, min(width, height) // 100)
    if width > 4 * frame and height > 4 * frame:
        _fill(indices, width, height, 0, 0, width, frame, FRAME)
        _fill(indices, width, height, 0, height - frame, width, height, FRAME)
        _fill(indices, width, height, 0, 0, frame, height, FRAME)
        _fill(indices, width, height, width - frame, 0, width, height, FRAME)
    margin = frame + max(2, width // 20)
    text, scale = _fit_text(_printable(name), width - 2 * margin, height - 2 * margin)
    left = (width - _text_width(len(text), scale)) // 2
    top = (height - GLYPH_HEIGHT * scale) // 2
    _draw_text(indices, width, height, text, left, top, scale)
    return indices


def render_framebuffer(name, width, height):
    """The exact screen of an instance called `name`, in DEFAULT_PIXEL_FORMAT.

    ``width * height * 4`` bytes, rows from the top, each pixel B, G, R, 0xFF.
    The name is drawn with a built-in 5x8 font, scaled up 6 to 2 times (the
    largest that fits); a name too long even at the smallest scale is cut and
    ends with '...'. Characters outside printable ASCII are drawn as '?'.
    """
    return _encode(_render_indices(name, width, height), PALETTE, DEFAULT_PIXEL_FORMAT)


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

class _ClientGone(Exception):
    """The client closed the connection (or it broke)."""


class _ProtocolError(Exception):
    """The client broke the protocol or asked for something we do not serve."""


_VERSION_RE = re.compile(rb"^RFB (\d{3})\.(\d{3})\n$")


class _Screen:
    """The still image of a display, converted once per pixel format asked for."""

    def __init__(self, name, width, height):
        self.width = width
        self.height = height
        self._indices = _render_indices(name, width, height)
        self._lock = threading.Lock()
        self._converted = {}

    def pixels(self, pixel_format):
        key = pixel_format.conversion_key()
        with self._lock:
            data = self._converted.get(key)
            if data is None:
                data = _encode(self._indices, PALETTE, pixel_format)
                self._converted[key] = data
            return data

    def rectangle(self, pixel_format, x, y, w, h):
        """Raw pixel data of a rectangle already clipped to the screen."""
        data = self.pixels(pixel_format)
        size = pixel_format.bits_per_pixel // 8
        if x == 0 and w == self.width:
            return data[y * w * size:(y + h) * w * size]
        view = memoryview(data)
        row_bytes = self.width * size
        return b"".join(view[row * row_bytes + x * size:row * row_bytes + (x + w) * size]
                        for row in range(y, y + h))


class _ClientSession:
    """One client connection, from the ProtocolVersion handshake to its end."""

    def __init__(self, sock, peer, screen, desktop_name):
        self._sock = sock
        self._peer = peer
        self._screen = screen
        self._desktop_name = desktop_name
        self._minor = 8
        self._pixel_format = DEFAULT_PIXEL_FORMAT
        self._handlers = {
            0: self._set_pixel_format,
            2: self._set_encodings,
            3: self._framebuffer_update_request,
            4: self._key_event,
            5: self._pointer_event,
            6: self._client_cut_text,
        }

    def run(self):
        try:
            self._negotiate_version()
            self._negotiate_security()
            self._initialise()
            while True:
                self._handle_message()
        except _ClientGone:
            LOG.debug("VNC client %s of %s disconnected", self._peer, self._desktop_name)
        except OSError as exc:
            LOG.debug("VNC client %s of %s: connection lost: %s", self._peer,
                      self._desktop_name, exc)
        except _ProtocolError as exc:
            LOG.warning("Closing VNC client %s of %s: %s", self._peer, self._desktop_name,
                        exc)

    # -- I/O -------------------------------------------------------------

    def _recv_exact(self, count):
        chunks = []
        while count:
            chunk = self._sock.recv(min(count, 65536))
            if not chunk:
                raise _ClientGone()
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def _send(self, *parts):
        self._sock.sendall(b"".join(parts))

    # -- Handshake -------------------------------------------------------

    def _negotiate_version(self):
        """Section 7.1.1; 3.7 and 3.8 are themselves, other 3.x versions mean 3.3."""
        self._send(SERVER_VERSION)
        reply = self._recv_exact(12)
        match = _VERSION_RE.match(reply)
        if not match or int(match.group(1)) != 3:
            raise _ProtocolError("unsupported protocol version %r" % reply)
        minor = int(match.group(2))
        self._minor = minor if minor in (7, 8) else 3
        LOG.debug("VNC client %s of %s speaks RFB 3.%d", self._peer, self._desktop_name,
                  self._minor)

    def _negotiate_security(self):
        """Section 7.1.2 and 7.1.3: only None, which 3.8 confirms with a SecurityResult."""
        if self._minor == 3:
            self._send(struct.pack(">I", SECURITY_NONE))
            return
        self._send(struct.pack(">BB", 1, SECURITY_NONE))
        chosen = self._recv_exact(1)[0]
        if chosen != SECURITY_NONE:
            if self._minor == 8:
                reason = b"Only security type None (1) is supported"
                self._send(struct.pack(">II", 1, len(reason)), reason)
            else:
                self._send(struct.pack(">I", 1))
            raise _ProtocolError("client chose unsupported security type %d" % chosen)
        if self._minor == 8:
            self._send(struct.pack(">I", 0))

    def _initialise(self):
        """ClientInit (whatever its shared flag: all clients see the same), then ServerInit."""
        self._recv_exact(1)
        name = self._desktop_name.encode("utf-8")
        self._send(struct.pack(">HH", self._screen.width, self._screen.height),
                   DEFAULT_PIXEL_FORMAT.pack(), struct.pack(">I", len(name)), name)

    # -- Client messages (section 7.5) -----------------------------------

    def _handle_message(self):
        message_type = self._recv_exact(1)[0]
        handler = self._handlers.get(message_type)
        if handler is None:
            raise _ProtocolError("unknown message type %d" % message_type)
        handler()

    def _set_pixel_format(self):
        pixel_format = PixelFormat.unpack(self._recv_exact(19)[3:])
        if not pixel_format.true_colour:
            raise _ProtocolError("colour-map pixel formats are not supported")
        if pixel_format.bits_per_pixel not in SUPPORTED_BITS_PER_PIXEL:
            raise _ProtocolError("unsupported bits-per-pixel %d" % pixel_format.bits_per_pixel)
        self._pixel_format = pixel_format

    def _set_encodings(self):
        (count,) = struct.unpack(">xH", self._recv_exact(3))
        self._recv_exact(4 * count)  # Raw is all we send, whatever is asked for

    def _framebuffer_update_request(self):
        incremental, x, y, w, h = struct.unpack(">BHHHH", self._recv_exact(9))
        if incremental:
            # Nothing ever changes on this screen: like a real server with
            # nothing new, hold the request rather than answer it.
            return
        self._send_update(x, y, w, h)

    def _send_update(self, x, y, w, h):
        x, y = min(x, self._screen.width), min(y, self._screen.height)
        w, h = min(w, self._screen.width - x), min(h, self._screen.height - y)
        if not (w and h):
            self._send(struct.pack(">BxH", 0, 0))
            return
        self._send(struct.pack(">BxH", 0, 1), struct.pack(">HHHHi", x, y, w, h, 0),
                   self._screen.rectangle(self._pixel_format, x, y, w, h))

    def _key_event(self):
        self._recv_exact(7)

    def _pointer_event(self):
        self._recv_exact(5)

    def _client_cut_text(self):
        (length,) = struct.unpack(">3xI", self._recv_exact(7))
        if length > MAX_CUT_TEXT:
            raise _ProtocolError("cut text of %d bytes is too long" % length)
        while length:
            length -= len(self._recv_exact(min(length, 65536)))


class RFBDisplay:
    """The VNC server of one instance: listens on `listen_host`, serves any number of clients."""

    def __init__(self, name, listen_host, port=0, width=640, height=400):
        if not (0 < width < 65536 and 0 < height < 65536):
            raise ValueError("screen size %dx%d out of range" % (width, height))
        self._name = name
        self._listen_host = listen_host
        self._requested_port = port
        self._screen = _Screen(name, width, height)
        self._lock = threading.Lock()
        self._listener = None
        self._port = None
        self._accept_thread = None
        self._clients = {}  # socket -> thread
        self._stopped = False

    @property
    def desktop_name(self):
        return self._name

    @property
    def width(self):
        return self._screen.width

    @property
    def height(self):
        return self._screen.height

    @property
    def port(self):
        """The port the server listens (or listened) on; None before start()."""
        return self._port

    def start(self):
        """Bind and accept clients in the background; OSError if the address cannot be bound."""
        with self._lock:
            if self._listener is not None or self._stopped:
                raise RuntimeError("RFBDisplay %s cannot be started twice" % self._name)
            family = socket.AF_INET6 if ":" in self._listen_host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self._listen_host, self._requested_port))
                listener.listen(16)
            except OSError:
                listener.close()
                raise
            self._listener = listener
            self._port = listener.getsockname()[1]
            self._accept_thread = threading.Thread(
                target=self._accept_loop, args=(listener,),
                name="rfb-accept-%s" % self._name, daemon=True)
            self._accept_thread.start()
        LOG.info("VNC server of %s listening on %s port %d", self._name, self._listen_host,
                 self.port)

    def stop(self):
        """Close the listening socket and every client connection; safe to call again."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            listener, self._listener = self._listener, None
            accept_thread = self._accept_thread
            clients = list(self._clients.items())
        if listener is not None:
            self._wake_accept_loop()
            _shutdown(listener)
            listener.close()
            LOG.info("VNC server of %s on port %d stopped", self._name, self._port)
        for sock, _thread in clients:
            _shutdown(sock)
        for _sock, thread in clients:
            thread.join(_STOP_JOIN_TIMEOUT)
        if accept_thread is not None and accept_thread is not threading.current_thread():
            accept_thread.join(_STOP_JOIN_TIMEOUT)

    def _wake_accept_loop(self):
        """Connect to ourselves so a blocked accept() returns and sees _stopped.

        Closing the listener does not wake an accept() that a green thread is
        blocked in under eventlet (it does with OS threads), so stop() would wait
        for the join timeout.
        """
        host = self._listen_host
        if host in ("0.0.0.0", "::", ""):
            host = "::1" if ":" in host else "127.0.0.1"
        try:
            socket.create_connection((host, self._port), timeout=1).close()
        except OSError:
            pass  # the listener is already gone: nothing waits on it

    def _accept_loop(self, listener):
        while True:
            try:
                sock, peer = listener.accept()
            except OSError:
                break
            with self._lock:
                if self._stopped:
                    sock.close()
                    break
                thread = threading.Thread(target=self._serve_client, args=(sock, peer),
                                          name="rfb-client-%s" % self._name, daemon=True)
                self._clients[sock] = thread
            thread.start()
        LOG.debug("VNC server of %s stopped accepting", self._name)

    def _serve_client(self, sock, peer):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            LOG.debug("VNC client %s connected to %s", peer, self._name)
            _ClientSession(sock, peer, self._screen, self._name).run()
        except OSError as exc:
            LOG.debug("VNC client %s of %s: %s", peer, self._name, exc)
        finally:
            with self._lock:
                self._clients.pop(sock, None)
            sock.close()


def _shutdown(sock):
    """Wake up whoever waits on `sock` (accept, recv, sendall) and tell the peer."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected, or already gone
