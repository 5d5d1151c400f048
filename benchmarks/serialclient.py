"""What a serial console page does, for the benchmark: keystrokes echoed by the guest,
and a large paste echoed back, over nova-serialproxy's WebSocket (subprotocol
'binary' or 'base64') or plain TCP (direct, or through the bare relay).

    python serialclient.py echo-server   # prints "LISTENING <port>", echoes every byte

The echo server stands in for a guest's serial port: it sends back what it reads,
as a shell with echo on does (a real guest at 115200 baud moves ~11 kB/s; this one
is as fast as the machine, so the proxy's own cost shows).

Only the standard library and rfbclient.py.
"""
import base64
import select
import socket
import statistics
import struct
import sys
import threading
import time
import urllib.parse

import rfbclient

PASTE_CHUNK = 16 * 1024  # one message of a paste (a page sends a large paste in pieces)


class SerialSession:
    """A serial console: a WebSocket (url, subprotocol 'binary' or 'base64') or TCP."""

    def __init__(self, url=None, tcp=None, protocol="binary", timeout=30.0):
        self.ws = url is not None
        self.base64 = self.ws and protocol == "base64"
        if self.ws:
            parts = urllib.parse.urlsplit(url)
            address = (parts.hostname, parts.port)
        else:
            address = tcp
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        if self.ws:
            self.sock.sendall(rfbclient.upgrade_request(url, protocol=protocol))
            while b"\r\n\r\n" not in self._buf:
                self._more()
            head, self._buf = self._buf.split(b"\r\n\r\n", 1)
            if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
                raise ConnectionError("refused: %r" % head[:200])

    def frame(self, data):
        """What the client sends for `data` (precomputable)."""
        if self.base64:
            return rfbclient.mask_frame(base64.b64encode(data), opcode=0x1)
        return rfbclient.mask_frame(data) if self.ws else data

    def _more(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed by the server")
        self._buf += chunk

    def _exact(self, size):
        while len(self._buf) < size:
            self._more()
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def recv(self):
        """The console bytes of the next message (whatever TCP gives, without framing)."""
        if not self.ws:
            if not self._buf:
                self._more()
            data, self._buf = self._buf, b""
            return data
        first, second = self._exact(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exact(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exact(8))[0]
        payload = self._exact(length)
        if first & 0x0F == 0x8:
            raise ConnectionError("WebSocket closed by the server: %r" % payload)
        return base64.b64decode(payload) if self.base64 else payload

    def buffered(self):
        """True if bytes already read wait to be handed out."""
        return bool(self._buf)

    def close(self):
        self.sock.close()


def echo_latency(count=200, **target):
    """Milliseconds from a keystroke (one byte) to its echo: median and p99."""
    session = SerialSession(**target)
    try:
        key = session.frame(b"x")
        times = []
        for _ in range(count):
            started = time.perf_counter()
            session.sock.sendall(key)
            got = b""
            while not got:
                got = session.recv()
            times.append((time.perf_counter() - started) * 1000)
    finally:
        session.close()
    times.sort()
    return {"median_ms": round(statistics.median(times), 3),
            "p99_ms": round(times[int(0.99 * (len(times) - 1))], 3)}


def paste_throughput(seconds=2.0, **target):
    """MB/s (10^6 console bytes per second) of a large paste, PASTE_CHUNK a message,
    echoed back in full: sent by one thread while this one reads the echo."""
    session = SerialSession(**target)
    try:
        chunk = session.frame(bytes(range(256)) * (PASTE_CHUNK // 256))
        sent = [0]
        done = threading.Event()

        def paste():
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                session.sock.sendall(chunk)
                sent[0] += PASTE_CHUNK
            done.set()

        started = time.perf_counter()
        sender = threading.Thread(target=paste, daemon=True)
        sender.start()
        received = 0
        while not (done.is_set() and received >= sent[0]):
            # Caught up with the sender: wait for its next message, or for its end.
            if (received >= sent[0] and not session.buffered() and
                    not select.select([session.sock], [], [], 0.05)[0]):
                continue
            received += len(session.recv())
        elapsed = time.perf_counter() - started
        sender.join()
    finally:
        session.close()
    return {"MBps": round(received / 1e6 / elapsed, 1), "seconds": round(elapsed, 3)}


def echo_server():
    listener = socket.create_server(("127.0.0.1", 0))
    print("LISTENING %d" % listener.getsockname()[1], flush=True)

    def echo(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            while True:
                size = conn.recv_into(buf)
                if not size:
                    return
                conn.sendall(view[:size])

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1:] != ["echo-server"]:
        sys.exit(__doc__)
    echo_server()
