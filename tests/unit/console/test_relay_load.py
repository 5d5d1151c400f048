"""The proxy under load, over real sockets, in one proxy process (no timing asserted):

* a few hundred sessions at once, spread over several "instances" (console
  servers), each getting its own instance's bytes, intact, and its own echo;
* a client that stops reading while its console server streams: back-pressure
  reaches the console server, the proxy's memory stays bounded, and nothing is
  lost once the client reads again.
"""
import hashlib
import os
import resource
import socket
import threading
import time

import pytest

from nova_console import conf as nc_conf
from nova_console.console import novnc
from nova_console.console import proxies
from nova_console.console import buffers
from nova_console.console import websocket

from . import fakes

CONF = nc_conf.CONF

SESSIONS = 300
INSTANCES = 12
# Bytes each instance's console server sends first: large enough to need many
# reads, different for every instance.
SCREEN_BYTES = 256 * 1024


def screen_of(instance):
    """Deterministic, instance-specific bytes (a stand-in for its screen)."""
    seed = b"instance-%d" % instance
    blocks = []
    for i in range(SCREEN_BYTES // 32):
        blocks.append(hashlib.sha256(seed + i.to_bytes(4, "big")).digest())
    return b"".join(blocks)


@pytest.fixture
def proxy_process(tmp_path):
    """A real ConsoleProxyServer serving on its own hub in a thread, as one process
    serves all its sessions."""
    CONF.set_override("cert", str(tmp_path / "no-cert.pem"))
    checker = fakes.FakeTokenChecker()
    server = proxies.make_server(novnc, "127.0.0.1", 0, token_checker=checker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, checker
    server.stop()
    thread.join(10)
    CONF.clear_override("cert")


@pytest.fixture(autouse=True)
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 8 * SESSIONS + 256
    if soft < needed:
        if hard < needed:
            pytest.skip("needs %d file descriptors" % needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_proxy_opens_its_rpc_connections_when_it_starts(proxy_process):
    """The first console after a (re)start does not pay for connecting to the bus."""
    _server, checker = proxy_process
    assert checker.warmed_up.wait(10)
    assert checker.calls == []


def test_hundreds_of_concurrent_sessions_each_get_their_own_instances_bytes(proxy_process):
    server, checker = proxy_process
    port = server.address[1]
    screens = [screen_of(i) for i in range(INSTANCES)]
    backends = [fakes.Backend(fakes.greet_then_echo(screens[i])) for i in range(INSTANCES)]
    tokens = [checker.add(backends[n % INSTANCES].port) for n in range(SESSIONS)]
    start = threading.Barrier(SESSIONS + 1)
    results = [None] * SESSIONS

    def session(n):
        try:
            client = fakes.WSClient(port, timeout=60)
            start.wait(60)
            answer = client.handshake("/?token=%s" % tokens[n])
            assert answer.status == 101, answer
            got_screen = client.recv_bytes(SCREEN_BYTES)
            payload = b"session %d " % n + os.urandom(5000)
            client.send(payload)
            echoed = client.recv_bytes(len(payload))
            client.close()
            results[n] = (got_screen == screens[n % INSTANCES], echoed == payload)
        except Exception as exc:  # recorded, asserted below with the session number
            results[n] = exc

    threads = [threading.Thread(target=session, args=(n,), daemon=True)
               for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    start.wait(60)  # all connected: handshakes now run concurrently
    for thread in threads:
        thread.join(120)
    try:
        failures = {n: r for n, r in enumerate(results) if r != (True, True)}
        assert not failures, "%d of %d sessions failed, e.g. %r" % (
            len(failures), SESSIONS, list(failures.items())[:3])
        assert sum(b.connections for b in backends) == SESSIONS
    finally:
        for backend in backends:
            backend.stop()


def _rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class StreamingConsole:
    """A console server that streams a numbered byte pattern as fast as the proxy
    takes it, counting what it managed to send."""

    CHUNK = 64 * 1024

    def __init__(self):
        self.sent = 0
        self.backend = fakes.Backend(self._stream)

    @staticmethod
    def pattern(offset, size):
        return bytes((offset + i) % 251 for i in range(size))

    def _stream(self, conn, _backend):
        chunk = self.pattern(0, 251 * (self.CHUNK // 251))  # whole periods: repeats exactly
        while True:
            try:
                conn.sendall(chunk)
            except OSError:
                return
            self.sent += len(chunk)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_slow_reader_does_not_grow_proxy_memory(proxy_process):
    server, checker = proxy_process
    console = StreamingConsole()
    try:
        client = fakes.WSClient(server.address[1], timeout=30)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        assert client.handshake("/?token=%s" % checker.add(console.backend.port)).status == 101
        rss_before = _rss_kib()
        # The client reads nothing: the console server must soon be unable to send.
        last, stalled_since = -1, None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if console.sent == last:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since >= 1.0:
                    break
            else:
                last, stalled_since = console.sent, None
        assert stalled_since is not None, "the console server never stopped sending"
        held = console.sent  # bytes in flight: kernel buffers plus at most one proxy chunk
        assert held < 64 * 1024 * 1024, held
        grown = _rss_kib() - rss_before
        assert grown < 32 * 1024, "proxy memory grew by %d KiB" % grown
        # Once the client reads again, the stream resumes, every byte in order.
        received = client.recv_bytes(held + 1024 * 1024)
        assert received[:len(received) - len(received) % 251] == StreamingConsole.pattern(
            0, len(received) - len(received) % 251)
        assert console.sent > held
        client.disconnect()
    finally:
        console.backend.stop()


class CountingPool(buffers.ReadBufferPool):
    """A ReadBufferPool that records how many of its buffers were out at most."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.now_out = self.most_out = self.lent = 0

    def get(self):
        buf = super().get()
        if buf is not None:
            self.now_out += 1
            self.lent += 1
            self.most_out = max(self.most_out, self.now_out)
        return buf

    def put(self, buf):
        self.now_out -= 1
        super().put(buf)


class SinkConsole:
    """A console server that reads everything and keeps its sha256."""

    def __init__(self):
        self.received = 0
        self.digest = hashlib.sha256()
        self.backend = fakes.Backend(self._sink)

    def _sink(self, conn, _backend):
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            self.received += len(data)
            self.digest.update(data)


def test_streaming_clients_get_large_reads_and_their_bytes_arrive_intact(proxy_process,
                                                                       monkeypatch):
    """Clients pushing data as fast as they can (a large paste) are read
    STREAM_READ_SIZE at a time, never more such reads at once than the pool's
    limit; the sessions left out read the usual size. Every byte arrives, in order."""
    server, checker = proxy_process
    pool = CountingPool(buffers.STREAM_READ_SIZE, websocket.MAX_CLIENT_HEADER, keep=1, limit=2)
    monkeypatch.setattr(buffers, "STREAM_BUFFERS", pool)
    sessions, mib = 4, 24
    burst = [os.urandom(64 * 1024) for _ in range(16)]  # 1 MiB in 64 KiB frames
    expected = hashlib.sha256(b"".join(burst) * mib).hexdigest()
    consoles = [SinkConsole() for _ in range(sessions)]

    def upload(console):
        client = fakes.WSClient(server.address[1], timeout=30)
        assert client.handshake("/?token=%s" % checker.add(console.backend.port)).status == 101
        frames = b"".join(fakes.encode_frame(0x2, payload) for payload in burst)
        for _ in range(mib):
            client.send_raw(frames)
        client.close()

    threads = [threading.Thread(target=upload, args=(c,)) for c in consoles]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        deadline = time.monotonic() + 30
        while (any(c.received < mib << 20 for c in consoles)
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert [c.received for c in consoles] == [mib << 20] * sessions
        assert [c.digest.hexdigest() for c in consoles] == [expected] * sessions
        assert pool.lent > 0, "no streaming read was made"
        assert pool.most_out <= 2
    finally:
        for console in consoles:
            console.backend.stop()
