"""What the proxy moves bytes with: pooled buffers and pipes, and socket helpers.

* BufferPool / ReadBufferPool: reusable bytearrays lent while bytes are in
  flight, so an idle session holds none, and no read allocates.
* PipePool: pipes for splice(), lent per chunk, so that console bytes can go
  from one socket to the other without entering the process.
* Socket helpers: the OS socket under a green one, whether a socket can be
  spliced, shutdown without errors, a lingering close, and exact reads for
  the handshakes (CONNECT answers) that must not read one byte too many.
"""
import collections
import fcntl
import os
import socket

from eventlet import greenio

from nova_console.console import concurrency
from nova_console.console import websocket

# Bytes asked of the kernel per read, on both sockets of a session. It is also the
# largest chunk the proxy sends to a client in one frame when it copies.
READ_SIZE = 256 * 1024

# A client that keeps its socket full (a large clipboard paste, a file sent to a
# serial console) reads this much at a time: fewer, larger reads (fewer wake-ups and
# window updates) about halve the proxy's cost per byte. At most MAX_STREAM_BUFFERS
# such reads are in flight in a process, which bounds their memory (64 MiB); beyond
# that, a streaming session reads READ_SIZE.
STREAM_READ_SIZE = 4 * 1024 * 1024
MAX_STREAM_BUFFERS = 8

# Bytes moved per splice() at most.
SPLICE_SIZE = 1024 * 1024
# Pipes kept for splice() (two descriptors each; a session borrows one only while
# bytes are in it). Beyond MAX_PIPES sessions fall back to reading and writing.
MAX_PIPES = 256
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)


class BufferPool:
    """Reusable bytearrays of one size, lent while bytes are in flight.

    Lending instead of owning keeps idle sessions free of buffers (a parked
    session holds none) without allocating and freeing hundreds of KiB per read.
    At most `keep` free buffers are kept; more are left to the allocator. With a
    `limit`, at most that many are lent at once: get() returns None beyond it.
    deque.append/pop are atomic, so hubs in several threads may share a pool.
    """

    def __init__(self, size, keep=64, limit=None):
        self.size = size
        self.keep = keep
        self._free = collections.deque()
        # One ticket per buffer that may be out; None: no limit.
        self._tickets = None if limit is None else collections.deque([None] * limit)

    def get(self):
        if self._tickets is not None:
            try:
                self._tickets.pop()
            except IndexError:
                return None
        try:
            return self._free.pop()
        except IndexError:
            return bytearray(self.size)

    def put(self, buf):
        if self._tickets is not None:
            self._tickets.append(None)
        if len(self._free) < self.keep:
            self._free.append(buf)


class ReadBufferPool(BufferPool):
    """Buffers for a read and what is made of it, side by side in one lent buffer:
    buf[:read_end] takes the read (up to `lead` bytes kept from the last read, an
    incomplete frame header, then up to read_size new bytes), buf[output_at:] what
    is decoded from it (unmasked payloads, joined for one send: unmasking moves
    them anyway, so the headers between them cost no copy). output_at is a
    multiple of 64, so the output lands on word-aligned addresses (buffers are at
    least 16-byte aligned), which numpy XORs faster than unaligned ones."""

    def __init__(self, read_size, lead, **pool_args):
        self.read_size = read_size
        self.read_end = lead + read_size
        self.output_at = -(-self.read_end // 64) * 64
        super().__init__(self.output_at + self.read_end, **pool_args)


class PipePool:
    """Pipes for splice(), lent per chunk. Empty pipes come back; a pipe that may
    still hold bytes (the session ended mid-chunk) is closed instead."""

    def __init__(self, limit=MAX_PIPES, keep=64):
        self.limit = limit
        self.keep = keep
        self.enabled = hasattr(os, "splice")
        self._free = []
        self._open = 0

    def get(self):
        if self._free:
            return self._free.pop()
        if not self.enabled or self._open >= self.limit:
            return None
        try:
            read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # e.g. out of descriptors: copy instead
            return None
        try:
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, SPLICE_SIZE)
        except OSError:
            pass  # the default size (64 KiB) works, in smaller chunks
        self._open += 1
        return read_end, write_end

    def put(self, pipe):
        if len(self._free) < self.keep:
            self._free.append(pipe)
        else:
            self.discard(pipe)

    def discard(self, pipe):
        self._open -= 1
        for fd in pipe:
            try:
                os.close(fd)
            except OSError:
                pass


PIPES = PipePool()

# The relay's pools. Copies keep room in front of the bytes for the largest header
# of any framing; a WebSocket client's reads keep room for a frame header carried
# over from the last read, and their unmasked payloads land in the same buffer.
COPY_HEADROOM = websocket.MAX_SERVER_HEADER
COPY_BUFFERS = BufferPool(COPY_HEADROOM + READ_SIZE)
DECODE_BUFFERS = ReadBufferPool(READ_SIZE, websocket.MAX_CLIENT_HEADER, keep=32)
STREAM_BUFFERS = ReadBufferPool(STREAM_READ_SIZE, websocket.MAX_CLIENT_HEADER, keep=2,
                                limit=MAX_STREAM_BUFFERS)


def raw_socket(sock):
    """The non-blocking OS socket under a green socket, for calls that handle
    EAGAIN themselves; None for TLS (bytes must pass through the TLS layer)."""
    if hasattr(sock, "_sslobj"):
        return None
    raw = sock
    while isinstance(raw, greenio.GreenSocket):  # green sockets may wrap green sockets
        raw = raw.fd
    if raw is sock or not hasattr(raw, "sendmsg") or hasattr(raw, "_sslobj"):
        return None
    return raw


def can_splice(sock):
    """Whether splice() may move this socket's bytes (plain sockets, on Linux)."""
    return PIPES.enabled and not hasattr(sock, "_sslobj") and hasattr(sock, "fileno")


def shutdown_quietly(sock):
    """Stop all I/O on a socket, waking any green thread blocked on it; never raises.

    shutdown() rather than close(): another green thread may be waiting on the
    socket, and the server that accepted or opened it closes it afterwards.
    """
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


def linger_until_eof(sock, timeout):
    """Shut sock down for writing, then read and drop what the peer still sends until
    it hangs up, for at most `timeout` seconds: closing a socket with unread bytes
    sends a reset, which can destroy what was sent last before the peer read it."""
    try:
        sock.shutdown(socket.SHUT_WR)
        with concurrency.Timeout(timeout, False):
            while True:
                concurrency.wait_readable(sock)
                if not sock.recv(65536):
                    break
    except (OSError, ValueError):
        pass  # reset or shut down already: nothing left to protect


def recv_exactly(sock, size):
    """Exactly `size` bytes from sock; ConnectionError if it closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes"
                                  % (len(data), size))
        data += chunk
    return data


def read_http_head(sock, limit):
    """Read an HTTP head (through its blank line) and not one byte more: what
    follows is already another protocol's.

    Raises ValueError if the head is longer than limit, OSError on EOF.
    """
    head = b""
    while True:
        peeked = sock.recv(limit + 4 - len(head), socket.MSG_PEEK)
        if not peeked:
            raise ConnectionError("connection closed during the handshake")
        end = (head + peeked).find(b"\r\n\r\n")
        take = end + 4 - len(head) if end >= 0 else len(peeked)
        head += recv_exactly(sock, take)
        if end >= 0:
            return head
        if len(head) > limit:
            raise ValueError("handshake answer longer than %d bytes" % limit)
