"""nova-xvpvncproxy over real sockets: what a Java VNC viewer does (HTTP CONNECT,
then RFB on the same socket) and every way to get it wrong. Fake consoleauth, TCP
console servers; the core it shares with noVNC is tested in test_proxy.py."""
import os
import socket
import threading
import time

import pytest

from nova_console.console import events
from nova_console.console import target
from nova_console.console import xvp

from . import fakes
from .conftest import wait_for

RFB_GREETING = b"RFB 003.008\n"


@pytest.fixture
def make_xvp(make_harness):
    def make(handler=fakes.greet_then_echo(RFB_GREETING), **settings):
        return make_harness(handler, proxy=xvp, **settings)
    return make


@pytest.fixture
def xvp_proxy(make_xvp):
    return make_xvp()


class Viewer:
    """The Java viewer's side of the wire: a request, then raw bytes."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def connect(self, target_path, version="HTTP/1.0", trailing=b""):
        self.send(b"CONNECT %s %s\r\n\r\n" % (target_path.encode(), version.encode())
                  + trailing)
        return self.read_head()

    def read_head(self):
        """(first line, header lines) of the answer, read through its blank line."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the head: %r" % self.buf)
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        return lines[0], lines[1:]

    def recv_exactly(self, size):
        while len(self.buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed after %d of %d bytes" % (len(self.buf), size))
            self.buf += chunk
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def rest_until_eof(self):
        data, self.buf = self.buf, b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def xvp_token(harness, **info):
    return harness.checker.add(harness.backend.port, console_type="xvpvnc",
                               access_url_base="http://127.0.0.1:6081/console", **info)


def test_a_java_viewer_gets_200_then_the_consoles_own_bytes(xvp_proxy):
    viewer = Viewer(xvp_proxy.port)
    first, _headers = viewer.connect("/console?token=%s" % xvp_token(xvp_proxy))
    assert first.startswith("HTTP/1.1 200 ")
    assert viewer.recv_exactly(12) == RFB_GREETING  # no WebSocket frame around it
    big = os.urandom(2 * 1024 * 1024)
    sender = threading.Thread(target=viewer.send, args=(big,))
    sender.start()
    assert viewer.recv_exactly(len(big)) == big  # the echo console server
    sender.join()


def test_bytes_sent_with_the_connect_request_reach_the_console(xvp_proxy):
    viewer = Viewer(xvp_proxy.port)
    first, _ = viewer.connect("/console?token=%s" % xvp_token(xvp_proxy),
                              trailing=b"RFB 003.008\n")
    assert first.startswith("HTTP/1.1 200 ")
    assert viewer.recv_exactly(24) == RFB_GREETING + b"RFB 003.008\n"


def test_http_1_1_connect_is_taken_too(xvp_proxy):
    viewer = Viewer(xvp_proxy.port)
    first, _ = viewer.connect("/console?token=%s" % xvp_token(xvp_proxy), "HTTP/1.1")
    assert first.startswith("HTTP/1.1 200 ")


def _refused(harness, request, status):
    """Send `request`; the answer must be `status` with no body, then a close, and
    nothing must have reached a console server."""
    viewer = Viewer(harness.port)
    viewer.send(request)
    first, headers = viewer.read_head()
    assert first.split(" ", 2)[1] == str(status), first
    assert any(h.startswith("X-Console-Refusal: ") for h in headers), headers
    assert viewer.rest_until_eof() == b""
    assert harness.backend.connections == 0
    return first, headers


def test_a_connect_without_token_is_400(xvp_proxy):
    _refused(xvp_proxy, b"CONNECT /console HTTP/1.0\r\n\r\n", 400)
    _refused(xvp_proxy, b"CONNECT /console?token= HTTP/1.0\r\n\r\n", 400)
    assert xvp_proxy.checker.calls == []


def test_an_unknown_expired_or_revoked_token_is_401(xvp_proxy):
    first, _ = _refused(xvp_proxy, b"CONNECT /console?token=unknown HTTP/1.0\r\n\r\n", 401)
    assert "unknown" not in first
    assert xvp_proxy.checker.calls == ["unknown"]


def test_a_token_of_another_console_type_is_401(xvp_proxy):
    novnc_token = xvp_proxy.checker.add(xvp_proxy.backend.port, console_type="novnc")
    _refused(xvp_proxy, b"CONNECT /console?token=%s HTTP/1.0\r\n\r\n" % novnc_token.encode(),
             401)


@pytest.mark.parametrize("request_line,status", [
    (b"CONNECT 10.0.0.5:5900 HTTP/1.0", 400),     # a proxy CONNECT, not a console
    (b"CONNECT /other?token=abc HTTP/1.0", 404),  # another path
    (b"CONNECT / HTTP/1.0", 404),
    (b"CONNECT HTTP/1.0", 400),                   # no path at all
    (b"\x16\x03\x01 garbage", 400),              # not HTTP
])
def test_a_connect_to_anything_but_the_console_path_is_refused(xvp_proxy, request_line,
                                                                status):
    _refused(xvp_proxy, request_line + b"\r\n\r\n", status)
    assert xvp_proxy.checker.calls == []


@pytest.mark.parametrize("wrong", [
    b"GET /console?token=abc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /?token=abc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"POST /console HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
])
def test_other_methods_on_the_xvp_port_are_405_naming_connect(xvp_proxy, wrong):
    _first, headers = _refused(xvp_proxy, wrong, 405)
    assert "Allow: CONNECT" in headers
    assert xvp_proxy.checker.calls == []


def test_a_console_server_that_is_down_is_502_with_nothing_leaked(make_xvp):
    harness = make_xvp()
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    token = harness.checker.add(port, console_type="xvpvnc")
    first, headers = _refused(harness, b"CONNECT /console?token=%s HTTP/1.0\r\n\r\n"
                              % token.encode(), 502)
    assert str(port) not in first + "".join(headers)  # where it failed stays in the log


def test_a_viewer_that_never_finishes_its_request_is_cut_at_the_request_timeout(make_xvp):
    harness = make_xvp(request_timeout=1)
    viewer = Viewer(harness.port)
    viewer.send(b"CONNECT /console?token=abc HTTP/1.0\r\n")  # and never the blank line
    started = time.monotonic()
    assert viewer.rest_until_eof() == b""
    assert time.monotonic() - started < 4
    assert harness.checker.calls == []


def test_xvp_sessions_are_told_to_the_observers_like_any_other(make_xvp):
    seen = []

    class Recorder(events.SessionObserver):
        def refused(self, session, refusal):
            seen.append(("refused", session.front, refusal.kind))

        def ended(self, session):
            seen.append(("ended", session.front, session.bytes_to_console,
                         session.bytes_to_client))

    harness = make_xvp(observers=(Recorder(),))
    viewer = Viewer(harness.port)
    viewer.connect("/console?token=%s" % xvp_token(harness))
    assert viewer.recv_exactly(12) == RFB_GREETING
    viewer.send(b"abc")
    assert viewer.recv_exactly(3) == b"abc"
    viewer.sock.close()
    Viewer(harness.port).connect("/console?token=nope")
    assert wait_for(lambda: len(seen) == 2, timeout=5)
    assert ("ended", "connect", 3, 15) in seen
    assert ("refused", "connect", target.INVALID_TOKEN) in seen


def test_the_xvp_proxy_listens_where_its_options_say(conf):
    conf("xvpvncproxy_host", "127.0.0.2", group="vnc")
    conf("xvpvncproxy_port", 16081, group="vnc")
    conf("xvpvncproxy_base_url", "https://xvp.example/consoles/vnc", group="vnc")
    read = xvp.settings()
    assert (read.host, read.port, read.console_types) == ("127.0.0.2", 16081, ("xvpvnc",))
    assert read.web_root is None
    assert [front.path for front in read.fronts] == ["/consoles/vnc"]
