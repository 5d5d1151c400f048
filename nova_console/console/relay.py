"""Relaying a console session: the client (framed as its front says) <-> the
console server's TCP, the same way for every console type.

Runs on the proxy's concurrency model (concurrency.py): a session is two green
threads, the handler's own for client -> console and one more for console ->
client, each a plain loop of "wait until readable, borrow a buffer (or a pipe),
read, write it all, give it back".

The client side's framing (framing.py) says only what differs: the header in
front of each chunk to the client (a frame header, or nothing) or, for base64,
the whole frame; the reader and decoder of the client's bytes (none for a raw
client); the goodbye (a close frame, or nothing). The byte path is lean on
purpose (the proxy moves whole screens per second):

* Large reads (buffers.READ_SIZE) straight into a pooled buffer (recv_into, no
  bytes object per read); an idle session holds no buffer at all.
* Console -> client, on Linux with plain (non-TLS) sockets, the bytes never
  enter the process: splice() moves them from the console socket into a pipe
  borrowed from a pool, the chunk's header is sent (MSG_MORE, so it leaves in
  the payload's first segment), and splice() moves the pipe's pages to the
  client socket. Elsewhere (TLS, other systems): the header is written into
  room kept in front of the bytes read, and both leave in one send: no copy,
  no join.
* A raw client's bytes (client -> console) are copied, in reads that grow to
  STREAM_READ_SIZE while the client keeps its socket full: on loopback that
  moved ~1.5 times what splice() did in that direction.
* A WebSocket client's frames are parsed where they were read, and their
  payloads unmasked straight into the second half of the same lent buffer,
  joined, so many frames become one write to the console server. A client
  that keeps its socket full gets larger reads (STREAM_READ_SIZE, from a
  bounded pool).
* Back-pressure both ways: a direction reads again only once everything it
  read was written, so a slow reader on one side stops the other side from
  being read; the proxy never holds more than one buffer per direction, and
  the kernel's own socket buffers (bounded) do the rest.

Pings are answered, a close is echoed. Every write to the client (data, pong,
goodbye) takes the client stream's write lock, so frames never interleave.

When either side goes away, the other is told (the framing's goodbye) and both
sockets are shut down, which wakes the other direction. The client's socket is
first shut down for writing only, and what it still sends is dropped for up to
CLOSE_TIMEOUT (a "lingering close"): closing with unread bytes would reset the
connection, which can destroy the goodbye before the client read it.
"""
import contextlib
import os
import socket
import time

from eventlet import hubs

from nova_console.console import buffers
from nova_console.console import concurrency
from nova_console.console import websocket

# Seconds the relay waits to send its goodbye, then for a direction to stop,
# when a session ends.
CLOSE_TIMEOUT = 2.0

# Chunks a streaming session moves before it lets the other sessions run.
FAIR_CHUNKS = 4

_NO_LOCK = contextlib.nullcontext()


class _Path:
    """One direction of a session: src's bytes to dst, each chunk behind
    header(size) (or made into frame(chunk), when the framing encodes), written
    under lock, by splice() where `splice` and the sockets allow; `moved` counts
    the console bytes."""

    __slots__ = ("src", "dst", "header", "frame", "lock", "splice", "moved")

    def __init__(self, src, dst, header, lock, splice, frame=None):
        self.src, self.dst, self.header, self.lock = src, dst, header, lock
        self.frame = frame
        self.splice = (splice and frame is None and buffers.can_splice(src)
                       and buffers.can_splice(dst))
        self.moved = 0


class Relay:
    """One console session: the client (a framing.ClientStream) <-> the console
    server socket until either side goes away (or, when expires_at is given,
    until that unix time).

    Both sockets are green, with no timeout. run() blocks until both directions
    stopped and both sockets are shut down; afterwards bytes_to_backend,
    bytes_to_client, duration and end_reason describe the session.
    """

    def __init__(self, client, backend_sock, expires_at=None):
        self.client = client
        self.backend_sock = backend_sock
        self.expires_at = expires_at
        self.duration = 0.0
        self.end_reason = None
        self._close_code = websocket.CLOSE_NORMAL
        framing = client.framing
        self._to_client = _Path(backend_sock, client.sock, framing.data_header,
                                client.write_lock, splice=True,
                                frame=framing.frame if framing.decode else None)
        self._decode = framing.decode
        self._to_backend = _Path(client.sock, backend_sock, None, _NO_LOCK, splice=False)
        self._closing = False
        self._closed = concurrency.Event()
        self._to_client_done = concurrency.Event()
        self._linger_timer = None

    @property
    def bytes_to_client(self):
        return self._to_client.moved

    @property
    def bytes_to_backend(self):
        return self._to_backend.moved

    def run(self):
        started = time.monotonic()
        timer = None
        if self.expires_at is not None:
            timer = concurrency.call_later(max(0.0, self.expires_at - time.time()),
                                           self._expire)
        concurrency.spawn_n(self._console_to_client)
        try:
            self._client_to_console()
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

    # -- the two directions -----------------------------------------------------------

    def _console_to_client(self):
        reason = "console server closed the connection"
        try:
            self._pump(self._to_client)
        except Exception as exc:  # any socket error ends the session
            reason = "backend->client: %s" % (exc.__class__.__name__,)
        finally:
            self._finish(reason)
            self._close_both()
            self._to_client_done.send()

    def _client_to_console(self):
        reason, code = "client closed the connection", websocket.CLOSE_NORMAL
        decoded, unread = self.client.take_pending()
        try:
            if self.client.framing.reader is None:  # the client's bytes are the console's
                decoded, unread = decoded + unread, b""
            self._send_to_backend(decoded)
            if self.client.framing.reader is None:
                self._pump(self._to_backend)
            else:
                reason, code = self._decode_to_console(unread)
        except (websocket.MessageTooBig, websocket.ProtocolError) as exc:
            reason, code = str(exc), exc.code
        except Exception as exc:  # any socket error ends the session
            reason = "client->backend: %s" % (exc.__class__.__name__,)
        self._finish(reason, code)

    def _send_to_backend(self, data):
        if data:
            self.backend_sock.sendall(data)
            self._to_backend.moved += len(data)

    # -- bytes as they are: splice, or copy ----------------------------------------------

    def _pump(self, path):
        """Move path.src's bytes to path.dst until src's end of stream (or of the
        session); socket errors propagate."""
        moved = 0  # chunks moved since this green thread last waited
        streaming = False  # the last copy filled its room: more is likely waiting
        while True:
            pipe = buffers.PIPES.get() if path.splice else None
            if pipe is not None:
                # Try first, wait only when nothing is there: a streaming session
                # skips one trip through the hub per chunk, and yields to the
                # others every FAIR_CHUNKS chunks.
                size = self._splice_chunk(path, pipe)
                if size == 0:
                    return
                if size is None or moved >= FAIR_CHUNKS:
                    moved = 0
                    if size is None:
                        concurrency.wait_readable(path.src)
                    else:
                        concurrency.sleep(0)
                else:
                    moved += 1
                continue
            if not streaming:
                concurrency.wait_readable(path.src)
                moved = 0
            elif moved >= FAIR_CHUNKS:
                concurrency.sleep(0)  # a streaming session lets the others run
                moved = 0
            size = self._copy_chunk(path, streaming)
            if not size:
                return
            streaming = size >= buffers.READ_SIZE
            moved += 1

    def _copy_chunk(self, path, streaming):
        """Read what src has into a lent buffer (STREAM_READ_SIZE of room when
        `streaming` and one is free, else READ_SIZE) and write it, behind its
        header, to dst in one send; bytes moved, 0 at the end of the stream (or of
        the session)."""
        pool = buffers.STREAM_BUFFERS if streaming else buffers.COPY_BUFFERS
        buf = pool.get()
        if buf is None:  # the stream pool is at its limit: read the usual size
            pool, buf = buffers.COPY_BUFFERS, buffers.COPY_BUFFERS.get()
        room = buffers.STREAM_READ_SIZE if pool is buffers.STREAM_BUFFERS else buffers.READ_SIZE
        headroom = buffers.COPY_HEADROOM
        try:
            with memoryview(buf) as view:
                size = path.src.recv_into(view[headroom:headroom + room])
                if not size:
                    return 0
                chunk = view[headroom:headroom + size]
                if path.frame is not None:
                    chunk = path.frame(chunk)
                elif path.header is not None:
                    header = path.header(size)
                    view[headroom - len(header):headroom] = header
                    chunk = view[headroom - len(header):headroom + size]
                with path.lock:
                    if self._closing:
                        return 0
                    path.dst.sendall(chunk)
                path.moved += size
                return size
        finally:
            pool.put(buf)

    def _splice_chunk(self, path, pipe):
        """Move what src has (up to SPLICE_SIZE) to dst, behind its header, through
        `pipe`, without copying it into the process. Bytes moved; 0 at the end of
        the stream (or of the session); None if nothing was there after all."""
        read_end, write_end = pipe
        emptied = False
        try:
            try:
                size = os.splice(path.src.fileno(), write_end, buffers.SPLICE_SIZE,
                                 flags=buffers.SPLICE_FLAGS)
            except BlockingIOError:
                emptied = True
                return None
            emptied = size == 0
            if not size:
                return 0
            with path.lock:
                if self._closing:
                    return 0
                if path.header is not None:
                    path.dst.sendall(path.header(size), socket.MSG_MORE)
                dst_fd, left = path.dst.fileno(), size
                while left:
                    try:
                        left -= os.splice(read_end, dst_fd, left, flags=buffers.SPLICE_FLAGS)
                    except BlockingIOError:
                        hubs.trampoline(dst_fd, write=True)
            emptied = True
            path.moved += size
            return size
        finally:
            if emptied:
                buffers.PIPES.put(pipe)
            else:
                buffers.PIPES.discard(pipe)

    # -- a client's frames: parsed and unmasked where they were read ---------------------

    def _decode_to_console(self, early):
        """Decode the client's frames into console bytes until it closes; (why the
        session ends, the close code to answer with)."""
        client, reader = self.client.sock, self.client.framing.reader
        raw = buffers.raw_socket(client)
        more = False       # the last read filled its room: more bytes are likely waiting
        streaming = False  # the client keeps its socket full: read STREAM_READ_SIZE
        chunks = 0         # reads since this green thread last waited
        while True:
            if early:
                pass
            elif not more:
                concurrency.wait_readable(client)
                chunks = 0
            elif chunks >= FAIR_CHUNKS:
                concurrency.sleep(0)  # a streaming client lets the others run
                chunks = 0
            pool = buffers.STREAM_BUFFERS if streaming else buffers.DECODE_BUFFERS
            buf = pool.get()
            if buf is None:  # the stream pool is at its limit: read the usual size
                pool, buf = buffers.DECODE_BUFFERS, buffers.DECODE_BUFFERS.get()
            room, out = pool.read_end, pool.output_at
            controls = ()
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
                        return "client closed the connection", websocket.CLOSE_NORMAL
                    more = start + size == room
                    streaming = more or size > buffers.READ_SIZE
                    chunks += 1
                    if self._closing:
                        continue  # the session is over: drop what still comes
                    unmasked, controls = reader.feed(buf, start + size, view[out:])
                    if unmasked:
                        data = view[out:out + unmasked]
                        self._send_to_backend(self._decode(data) if self._decode else data)
            finally:
                pool.put(buf)
            close = self._answer_controls(controls)
            if close is not None:
                return "client closed the WebSocket", close

    def _answer_controls(self, controls):
        """Pong every ping; the close code to echo if the client closed, else None."""
        for opcode, payload in controls:
            if opcode == websocket.OP_PING:
                with self.client.write_lock:
                    if not self._closing:
                        self.client.sock.sendall(self.client.framing.pong(payload))
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
        client = self.client.sock
        try:
            goodbye = self.client.framing.goodbye(self._close_code,
                                                  (self.end_reason or "")[:100])
            if goodbye and self.client.write_lock.acquire(timeout=CLOSE_TIMEOUT):
                try:
                    with concurrency.Timeout(CLOSE_TIMEOUT, False):
                        client.sendall(goodbye)
                except Exception:  # the client is gone or not reading: nothing to tell
                    pass
                finally:
                    self.client.write_lock.release()
        finally:
            try:
                client.shutdown(socket.SHUT_WR)
            except (OSError, ValueError):
                pass
            buffers.shutdown_quietly(self.backend_sock)
            # The client has CLOSE_TIMEOUT to read the goodbye and hang up.
            self._linger_timer = concurrency.call_later(
                CLOSE_TIMEOUT, buffers.shutdown_quietly, client)
            self._closed.send()

    def _linger(self):
        """Read and drop what the client still sends until it hangs up (at most
        CLOSE_TIMEOUT): then closing the socket sends no reset."""
        client = self.client.sock
        with concurrency.Timeout(CLOSE_TIMEOUT, False):
            try:
                while True:
                    concurrency.wait_readable(client)
                    if not client.recv(65536):
                        break
            except Exception:  # reset or shut down: nothing left to protect
                pass
        buffers.shutdown_quietly(client)
