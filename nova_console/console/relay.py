"""Relaying a console session: the client's WebSocket <-> the console server's TCP.

Runs on the proxy's concurrency model (concurrency.py): a session is two green
threads, the handler's own for client -> console and one more for console ->
client, each a plain loop of "wait until readable, borrow a buffer, read, write
it all, give the buffer back".

The byte path is lean on purpose (the proxy moves whole screens per second):

* Large reads (READ_SIZE) straight into a pooled buffer (recv_into, no bytes
  object per read); an idle session holds no buffer at all.
* Console -> client, on Linux with plain (non-TLS) sockets: the bytes never
  enter the process. splice() moves them from the console socket into a pipe
  borrowed from a pool, the frame header is sent (MSG_MORE, so it leaves in the
  payload's first segment), and splice() moves the pipe's pages to the client
  socket. Elsewhere (TLS, other systems): the frame header is written into room
  kept in front of the payload, and header plus payload leave in one send: no
  copy, no join.
* Client -> console: frames are parsed where they were read, and their payloads
  unmasked (numpy when installed, else a big-int XOR) straight into the second
  half of the same lent buffer, joined, so many frames become one write to the
  console server. A client that keeps its socket full gets larger reads
  (STREAM_READ_SIZE, from a bounded pool).
* Back-pressure both ways: a direction reads again only once everything it
  read was written, so a slow reader on one side stops the other side from
  being read; the proxy never holds more than one buffer per direction, and
  the kernel's own socket buffers (bounded) do the rest.

WebSocket (RFC 6455) framing and parsing is websocket.py's. Pings are
answered, a close is echoed. Every write to the client (data, pong, close) takes
the session's write lock, so frames never interleave.

When either side goes away, the other is told (a close frame to the client)
and both sockets are shut down at once, which wakes the other direction. The
client's socket is only shut down for writing at first, and what the client
still sends is read and dropped for up to CLOSE_TIMEOUT (a "lingering close"):
closing a socket with unread bytes would reset the connection, and a reset can
destroy the close frame before the client read it.
"""
import fcntl
import os
import socket
import time

from eventlet import greenio
from eventlet import hubs
from oslo_log import log as logging

from nova_console.console import concurrency
from nova_console.console import websocket

LOG = logging.getLogger(__name__)

# Bytes asked of the kernel per read, on both sockets. It is also the largest
# frame the proxy sends to a client.
READ_SIZE = 256 * 1024

# Seconds the relay waits to send a close frame, then for a direction to stop,
# when a session ends.
CLOSE_TIMEOUT = 2.0

# Room kept in front of console bytes for the largest server frame header.
_HEADROOM = websocket.MAX_SERVER_HEADER

_TO_CLIENT_BUFFERS = concurrency.BufferPool(_HEADROOM + READ_SIZE)


class ReadBufferPool(concurrency.BufferPool):
    """Client -> console, a read and its unmasked payloads share one lent buffer:
    buf[:read_end] takes the read (an incomplete header kept from the last read,
    then up to read_size bytes), buf[unmasked_at:] the payloads, unmasked and
    joined for one send (unmasking moves them anyway: the frame headers between
    them cost no copy). unmasked_at is a multiple of 64, so payloads land on
    word-aligned addresses (buffers are at least 16-byte aligned), which numpy
    XORs faster than unaligned ones."""

    def __init__(self, read_size, **pool_args):
        self.read_end = websocket.MAX_CLIENT_HEADER + read_size
        self.unmasked_at = -(-self.read_end // 64) * 64
        super().__init__(self.unmasked_at + self.read_end, **pool_args)


_TO_BACKEND_BUFFERS = ReadBufferPool(READ_SIZE, keep=32)

# A client that keeps its socket full (a large clipboard paste, a file sent to a
# serial console) reads this much at a time: fewer, larger reads (fewer wake-ups and
# window updates) about halve the proxy's cost per byte. At most MAX_STREAM_BUFFERS
# such reads are in flight in a process, which bounds their memory (64 MiB);
# beyond that, a streaming session reads READ_SIZE.
STREAM_READ_SIZE = 4 * 1024 * 1024
MAX_STREAM_BUFFERS = 8
_STREAM_BUFFERS = ReadBufferPool(STREAM_READ_SIZE, keep=2, limit=MAX_STREAM_BUFFERS)

# Bytes moved per splice(): one frame to the client at most this large.
SPLICE_SIZE = 1024 * 1024
# Pipes kept for splice() (two descriptors each; a session borrows one only while
# bytes are in it). Beyond MAX_PIPES sessions fall back to reading and writing.
MAX_PIPES = 256
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)


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


_PIPES = PipePool()

# Chunks a streaming session moves before it lets the other sessions run.
FAIR_CHUNKS = 4



def _raw_socket(sock):
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


def _can_splice(sock):
    return _PIPES.enabled and not hasattr(sock, "_sslobj") and hasattr(sock, "fileno")


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


class Relay:
    """One console session: client WebSocket <-> console server socket until either
    side goes away (or, when expires_at is given, until that unix time).

    client_sock and backend_sock are green sockets with no timeout; already_read
    holds bytes the client sent right after its upgrade request. run() blocks
    until both directions stopped and both sockets are shut down; afterwards
    bytes_to_backend, bytes_to_client, duration and end_reason describe the
    session.
    """

    def __init__(self, client_sock, backend_sock, already_read=b"", expires_at=None,
                 max_message_bytes=websocket.MAX_MESSAGE_BYTES):
        self.client_sock = client_sock
        self.backend_sock = backend_sock
        self.expires_at = expires_at
        self.bytes_to_backend = 0
        self.bytes_to_client = 0
        self.duration = 0.0
        self.end_reason = None
        self._already_read = already_read
        self._reader = websocket.FrameReader(max_message_bytes)
        self._close_code = websocket.CLOSE_NORMAL
        self._write_lock = concurrency.Lock()
        self._closing = False
        self._closed = concurrency.Event()
        self._to_client_done = concurrency.Event()
        self._linger_timer = None

    def run(self):
        started = time.monotonic()
        timer = None
        if self.expires_at is not None:
            timer = concurrency.call_later(max(0.0, self.expires_at - time.time()),
                                           self._expire)
        concurrency.spawn_n(self._backend_to_client)
        try:
            self._client_to_backend()
        finally:
            self._close_both()
            self._linger()
            with concurrency.Timeout(CLOSE_TIMEOUT, False):
                self._to_client_done.wait()
            for pending in (timer, self._linger_timer):
                if pending is not None:
                    pending.cancel()
        self.duration = time.monotonic() - started
        return self

    def _finish(self, reason, close_code=websocket.CLOSE_NORMAL):
        """Record why the session ends; the first reason wins."""
        if self.end_reason is None:
            self.end_reason = reason
            self._close_code = close_code

    def _expire(self):
        self._finish("console token expired", websocket.CLOSE_POLICY_VIOLATION)
        self._close_both()

    # -- console -> client ------------------------------------------------------------

    def _backend_to_client(self):
        reason = "console server closed the connection"
        backend, client = self.backend_sock, self.client_sock
        splice = _can_splice(backend) and _can_splice(client)
        moved = 0  # chunks spliced since this green thread last waited
        try:
            while True:
                pipe = _PIPES.get() if splice else None
                if pipe is not None:
                    # Try first, wait only when nothing is there: a streaming session
                    # skips one trip through the hub per chunk, and yields to the
                    # others every FAIR_CHUNKS chunks.
                    size = self._splice_to_client(pipe)
                    if size == 0:
                        break
                    if size is None or moved >= FAIR_CHUNKS:
                        moved = 0
                        if size is None:
                            concurrency.wait_readable(backend)
                        else:
                            concurrency.sleep(0)
                    else:
                        moved += 1
                    continue
                concurrency.wait_readable(backend)
                buf = _TO_CLIENT_BUFFERS.get()
                try:
                    with memoryview(buf) as view:
                        size = backend.recv_into(view[_HEADROOM:])
                        if not size:
                            break
                        header = websocket.frame_header(websocket.OP_BINARY, size)
                        start = _HEADROOM - len(header)
                        view[start:_HEADROOM] = header
                        with self._write_lock:
                            if self._closing:
                                break
                            client.sendall(view[start:_HEADROOM + size])
                        self.bytes_to_client += size
                finally:
                    _TO_CLIENT_BUFFERS.put(buf)
        except Exception as exc:  # any socket error ends the session
            reason = "backend->client: %s" % (exc.__class__.__name__,)
        finally:
            self._finish(reason)
            self._close_both()
            self._to_client_done.send()

    def _splice_to_client(self, pipe):
        """Move what the console sent (up to SPLICE_SIZE) to the client as one frame,
        through `pipe`, without copying it into the process. Bytes moved; 0 at the
        end of the stream (or of the session); None if nothing was there after all."""
        read_end, write_end = pipe
        emptied = False
        try:
            try:
                size = os.splice(self.backend_sock.fileno(), write_end, SPLICE_SIZE,
                                 flags=_SPLICE_FLAGS)
            except BlockingIOError:
                emptied = True
                return None
            emptied = size == 0
            if not size:
                return 0
            client = self.client_sock
            with self._write_lock:
                if self._closing:
                    return 0
                client.sendall(websocket.frame_header(websocket.OP_BINARY, size), socket.MSG_MORE)
                client_fd, left = client.fileno(), size
                while left:
                    try:
                        left -= os.splice(read_end, client_fd, left, flags=_SPLICE_FLAGS)
                    except BlockingIOError:
                        hubs.trampoline(client_fd, write=True)
            emptied = True
            self.bytes_to_client += size
            return size
        finally:
            if emptied:
                _PIPES.put(pipe)
            else:
                _PIPES.discard(pipe)

    # -- client -> console ------------------------------------------------------------

    def _client_to_backend(self):
        reason, code = "client closed the connection", websocket.CLOSE_NORMAL
        client, reader = self.client_sock, self._reader
        raw = _raw_socket(client)
        early, self._already_read = self._already_read, b""
        more = False       # the last read filled its room: more bytes are likely waiting
        streaming = False  # the client keeps its socket full: read STREAM_READ_SIZE
        chunks = 0         # reads since this green thread last waited
        try:
            while True:
                if early:
                    pass
                elif not more:
                    concurrency.wait_readable(client)
                    chunks = 0
                elif chunks >= FAIR_CHUNKS:
                    concurrency.sleep(0)  # a streaming client lets the others run
                    chunks = 0
                pool = _STREAM_BUFFERS if streaming else _TO_BACKEND_BUFFERS
                buf = pool.get()
                if buf is None:  # MAX_STREAM_BUFFERS are out: read the usual size
                    pool, buf = _TO_BACKEND_BUFFERS, _TO_BACKEND_BUFFERS.get()
                room, out = pool.read_end, pool.unmasked_at
                try:
                    with memoryview(buf) as view:
                        start = reader.take_leftover(buf)
                        if early:
                            size = len(early)
                            view[start:start + size] = early
                            early = b""
                        elif raw is not None:
                            try:
                                size = raw.recv_into(view[start:room])
                            except BlockingIOError:  # nothing after all: wait for it
                                reader.give_back_leftover(buf, start)
                                more = streaming = False
                                continue
                        else:
                            size = client.recv_into(view[start:room])
                        if not size:
                            break
                        more = start + size == room
                        streaming = more or size > READ_SIZE
                        chunks += 1
                        if self._closing:
                            continue  # the session is over: drop what still comes
                        unmasked, controls = reader.feed(buf, start + size, view[out:])
                        if unmasked:
                            self.backend_sock.sendall(view[out:out + unmasked])
                            self.bytes_to_backend += unmasked
                finally:
                    pool.put(buf)
                close = self._answer_controls(controls)
                if close is not None:
                    reason, code = "client closed the WebSocket", close
                    break
        except (websocket.MessageTooBig, websocket.ProtocolError) as exc:
            reason, code = str(exc), exc.code
        except Exception as exc:  # any socket error ends the session
            reason = "client->backend: %s" % (exc.__class__.__name__,)
        self._finish(reason, code)

    def _answer_controls(self, controls):
        """Pong every ping; the close code to echo if the client closed, else None."""
        for opcode, payload in controls:
            if opcode == websocket.OP_PING:
                with self._write_lock:
                    if not self._closing:
                        self.client_sock.sendall(
                            websocket.frame_header(websocket.OP_PONG, len(payload)) + payload)
            elif opcode == websocket.OP_CLOSE:
                return websocket.close_code_to_echo(payload)
        return None

    # -- the end ------------------------------------------------------------------------

    def _close_both(self):
        """Say goodbye to the client if it can still hear it, then shut both sockets
        down, which wakes both directions. Runs once; later callers wait for it."""
        if self._closing:
            with concurrency.Timeout(2 * CLOSE_TIMEOUT, False):
                self._closed.wait()
            return
        self._closing = True
        try:
            if self._write_lock.acquire(timeout=CLOSE_TIMEOUT):
                try:
                    with concurrency.Timeout(CLOSE_TIMEOUT, False):
                        self.client_sock.sendall(
                            websocket.close_frame(self._close_code, (self.end_reason or "")[:100]))
                except Exception:  # the client is gone or not reading: nothing to tell
                    pass
                finally:
                    self._write_lock.release()
        finally:
            try:
                self.client_sock.shutdown(socket.SHUT_WR)
            except (OSError, ValueError):
                pass
            shutdown_quietly(self.backend_sock)
            # The client has CLOSE_TIMEOUT to read the close frame and hang up.
            self._linger_timer = concurrency.call_later(
                CLOSE_TIMEOUT, shutdown_quietly, self.client_sock)
            self._closed.send()

    def _linger(self):
        """Read and drop what the client still sends until it hangs up (at most
        CLOSE_TIMEOUT): then closing the socket sends no reset."""
        with concurrency.Timeout(CLOSE_TIMEOUT, False):
            try:
                while True:
                    concurrency.wait_readable(self.client_sock)
                    if not self.client_sock.recv(65536):
                        break
            except Exception:  # reset or shut down: nothing left to protect
                pass
        shutdown_quietly(self.client_sock)
