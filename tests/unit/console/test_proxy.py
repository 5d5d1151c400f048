"""The console proxy core, driven end to end over real sockets: a real
ConsoleProxyServer on 127.0.0.1, fake consoleauth, TCP console servers and a
hand-written WebSocket client."""
import base64
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import oslo_messaging as messaging
import pytest

import nova_console
from nova_console import conf as nc_conf
from nova_console.console import concurrency
from nova_console.console import events
from nova_console.console import negotiator
from nova_console.console import novnc
from nova_console.console import proxies
from nova_console.console import websocket
from nova_console.console import server as proxy_server
from nova_console.console import settings as proxy_settings
from nova_console.console import handler
from nova_console.console import target

from . import fakes
from .conftest import INDEX_HTML, Harness, wait_for

CONF = nc_conf.CONF

# -- relaying --------------------------------------------------------------------


def test_relays_bytes_both_ways_intact(proxy):
    token = proxy.checker.add(proxy.backend.port)
    client = proxy.open_session(token)
    for message in (b"x", b"\x00\xff" * 100, os.urandom(70000)):
        client.send(message)
        assert client.recv_bytes(len(message)) == message
    big = os.urandom(1024 * 1024)
    client.send(big)
    assert client.recv_bytes(len(big)) == big


def test_binary_subprotocol_selected_when_offered(proxy):
    token = proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s" % token, protocols="base64, binary")
    assert answer.status == 101
    assert answer.headers["sec-websocket-protocol"].strip() == "binary"


def test_backend_greeting_reaches_client_first(make_harness):
    harness = make_harness(fakes.greet_then_echo(b"RFB 003.008\n"))
    client = harness.open_session(harness.checker.add(harness.backend.port))
    assert client.recv_bytes(12) == b"RFB 003.008\n"


def test_data_sent_right_after_handshake_reaches_backend(proxy):
    token = proxy.checker.add(proxy.backend.port)
    client = proxy.client()
    early = fakes.encode_frame(0x2, b"early bytes")
    assert client.handshake("/?token=%s" % token, trailing=early).status == 101
    assert client.recv_bytes(11) == b"early bytes"


def test_ping_answered_with_pong(proxy):
    client = proxy.open_session(proxy.checker.add(proxy.backend.port))
    client.send_raw(fakes.encode_frame(0x9, b"are you there"))
    assert client.recv_frame() == (0xA, b"are you there")
    client.send(b"still relaying")
    assert client.recv_bytes(14) == b"still relaying"


def test_pongs_and_data_never_interleave_on_the_websocket(make_harness):
    blob = os.urandom(4 * 1024 * 1024)
    harness = make_harness(fakes.greet_then_echo(blob))
    client = harness.open_session(harness.checker.add(harness.backend.port))
    for i in range(200):
        client.send_raw(fakes.encode_frame(0x9, b"ping %d" % i))
    data, pongs = b"", []
    while len(data) < len(blob) or len(pongs) < 200:
        opcode, payload = client.recv_frame()  # a torn frame would derail parsing here
        if opcode == 0xA:
            pongs.append(payload)
        else:
            assert opcode == 0x2
            data += payload
    assert data == blob
    assert pongs == [b"ping %d" % i for i in range(200)]


def test_backend_close_closes_websocket(make_harness):
    harness = make_harness(fakes.say_and_hang_up(b"bye"))
    client = harness.open_session(harness.checker.add(harness.backend.port))
    assert client.recv_bytes(3) == b"bye"
    assert client.wait_closed() == websocket.CLOSE_NORMAL
    started = time.monotonic()
    assert client.at_eof()
    assert time.monotonic() - started < 1.0  # promptly, not after some timeout


def test_client_close_closes_backend(proxy):
    client = proxy.open_session(proxy.checker.add(proxy.backend.port))
    client.send(b"hi")
    assert client.recv_bytes(2) == b"hi"
    client.close()
    assert client.wait_closed() == 1000
    assert proxy.backend.ended.wait(3)


def test_client_disconnect_without_close_frame_closes_backend(proxy):
    client = proxy.open_session(proxy.checker.add(proxy.backend.port))
    client.send(b"hi")
    assert client.recv_bytes(2) == b"hi"
    client.disconnect()
    assert proxy.backend.ended.wait(3)


def test_oversized_message_closes_session_with_1009(proxy):
    client = proxy.open_session(proxy.checker.add(proxy.backend.port))
    # Only the header of a 2 MiB frame: the proxy must refuse before the payload.
    client.send_raw(b"\x82\xff" + (2 * 1024 * 1024).to_bytes(8, "big") + b"mask")
    assert client.wait_closed() == websocket.CLOSE_MESSAGE_TOO_BIG
    assert proxy.backend.ended.wait(3)


def test_fragmented_message_over_limit_closes_session(proxy):
    client = proxy.open_session(proxy.checker.add(proxy.backend.port))
    chunk = b"a" * (600 * 1024)
    client.send_raw(fakes.encode_frame(0x2, chunk, fin=False))
    client.send_raw(fakes.encode_frame(0x0, chunk, fin=True))
    assert client.wait_closed() == websocket.CLOSE_MESSAGE_TOO_BIG


def test_session_timeout_enforced_when_configured(make_harness):
    proxy = make_harness(enforce_session_timeout=True)
    token = proxy.checker.add(proxy.backend.port, expires=time.time() + 0.5)
    client = proxy.open_session(token)
    client.send(b"before expiry")
    assert client.recv_bytes(13) == b"before expiry"
    started = time.monotonic()
    assert client.wait_closed() == websocket.CLOSE_POLICY_VIOLATION
    assert time.monotonic() - started < 2.5
    assert proxy.backend.ended.wait(3)


def test_session_outlives_token_by_default(proxy):
    token = proxy.checker.add(proxy.backend.port, expires=time.time() + 0.2)
    client = proxy.open_session(token)
    time.sleep(0.5)
    client.send(b"after expiry")
    assert client.recv_bytes(12) == b"after expiry"


def test_many_concurrent_sessions_in_one_process(proxy):
    clients = [proxy.open_session(proxy.checker.add(proxy.backend.port)) for _ in range(50)]
    assert wait_for(lambda: proxy.backend.connections == 50)
    payloads = [os.urandom(1000) + b"session %d" % i for i in range(50)]
    results = [None] * 50

    def exchange(i):
        clients[i].send(payloads[i])
        results[i] = clients[i].recv_bytes(len(payloads[i]))

    threads = [threading.Thread(target=exchange, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == payloads
    for client in clients:
        client.close()
    assert wait_for(lambda: proxy.backend.ended_count == 50, timeout=5)


def test_stop_ends_open_sessions(proxy):
    client = proxy.open_session(proxy.checker.add(proxy.backend.port))
    client.send(b"x")
    assert client.recv_bytes(1) == b"x"
    proxy.server.stop()
    assert proxy.backend.ended.wait(3)
    assert client.at_eof()


def test_a_worker_that_stops_leaves_the_shared_listening_socket_to_the_others(make_harness):
    """Worker processes share one listening socket: one of them stopping (or being
    restarted by the supervisor) must not stop the others from accepting."""
    staying = make_harness()
    leaving = make_harness()
    # The second "worker" serves a duplicate of the first one's socket, as a fork does.
    shared = socket.fromfd(staying.server._listener.fileno(), socket.AF_INET,
                           socket.SOCK_STREAM)
    shared.settimeout(proxy_server.ACCEPT_POLL_INTERVAL)
    leaving.server._listener = concurrency.green_socket(shared)
    leaving.server._listener_pid = None  # as in a forked worker
    leaving.stop()
    for _ in range(5):
        status, _, body = staying.http("GET", "/vnc_lite.html")
        assert (status, body) == (200, INDEX_HTML)


# -- token ----------------------------------------------------------------------


def test_token_from_novnc_path_parameter_accepted(proxy):
    token = proxy.checker.add(proxy.backend.port)
    client = proxy.client()
    answer = client.handshake("/?path=%%3Ftoken%%3D%s" % token)
    assert answer.status == 101
    assert proxy.checker.calls == [token]


def test_token_from_cookie_accepted(proxy):
    token = proxy.checker.add(proxy.backend.port)
    client = proxy.client()
    answer = client.handshake("/websockify", headers=[("Cookie", "lang=en; token=%s" % token)])
    assert answer.status == 101
    client.send(b"ping")
    assert client.recv_bytes(4) == b"ping"


def test_query_token_wins_over_cookie(proxy):
    token = proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s" % token,
                                      headers=[("Cookie", "token=stale")])
    assert answer.status == 101
    assert proxy.checker.calls == [token]


def test_missing_token_rejected_403_no_backend_connection(proxy):
    answer = proxy.client().handshake("/")
    assert answer.status == 403
    assert answer.reason == "missing token"
    assert proxy.checker.calls == []
    assert proxy.backend.connections == 0


def test_a_refusal_has_no_body_names_its_reason_twice_and_closes(proxy):
    """Minimal WebSocket clients (tempest's) read any byte after the head as a frame."""
    client = proxy.client()
    client.send_raw(b"GET /?token=unknown HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n")
    answer = fakes.read_to_eof(client.sock)
    head, _, after = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 invalid token\r\n")
    assert b"\r\nX-Console-Refusal: invalid token" in head
    assert b"\r\nContent-Length: 0" in head
    assert after == b""


def test_a_refused_client_that_keeps_sending_gets_its_refusal_and_no_reset(proxy):
    """The proxy reads what a refused client still sends (for a while) before it
    closes: closing with unread bytes would reset the connection."""
    client = proxy.client()
    early = fakes.encode_frame(0x2, os.urandom(200000))
    assert client.handshake("/?token=unknown", trailing=early).status == 403
    client.send_raw(fakes.encode_frame(0x2, b"still talking"))
    client.sock.shutdown(socket.SHUT_WR)
    assert fakes.read_to_eof(client.sock) == b""  # a clean close, not a reset


def test_invalid_token_rejected_403_without_echoing_it(proxy):
    answer = proxy.client().handshake("/?token=not-a-known-token")
    assert answer.status == 403
    assert answer.reason == "invalid token"
    assert "not-a-known-token" not in repr(answer)
    assert proxy.checker.calls == ["not-a-known-token"]
    assert proxy.backend.connections == 0


def test_overlong_token_rejected_without_rpc(proxy):
    answer = proxy.client().handshake("/?token=" + "a" * 1000)
    assert answer.status == 403
    assert proxy.checker.calls == []


def test_checker_timeout_gives_503(proxy):
    token = proxy.checker.add(proxy.backend.port)
    proxy.checker.error = messaging.MessagingTimeout("no answer")
    answer = proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 503
    assert answer.reason == "console authorization service unavailable"
    assert proxy.backend.connections == 0


@pytest.mark.parametrize("error", [messaging.MessageDeliveryFailure("down"),
                                   RuntimeError("bug")])
def test_checker_failure_gives_503(proxy, error):
    token = proxy.checker.add(proxy.backend.port)
    proxy.checker.error = error
    answer = proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 503
    assert proxy.backend.connections == 0


def test_console_type_of_other_proxy_rejected(proxy):
    token = proxy.checker.add(proxy.backend.port, console_type="serial")
    answer = proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 403
    assert proxy.backend.connections == 0


# -- origin ---------------------------------------------------------------------


def test_bad_origin_rejected(proxy):
    token = proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s" % token, origin="http://evil.example")
    assert answer.status == 403
    assert answer.reason == "origin not allowed"
    assert proxy.checker.calls == []
    assert proxy.backend.connections == 0


@pytest.mark.parametrize("origin", ["null", "ftp://127.0.0.1", "chrome-extension://abc",
                                    "http://", "127.0.0.1"])
def test_malformed_or_non_http_origin_rejected(proxy, origin):
    token = proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s" % token, origin=origin)
    assert answer.status == 403
    assert proxy.backend.connections == 0


def test_missing_origin_allowed(proxy):
    token = proxy.checker.add(proxy.backend.port)
    assert proxy.client().handshake("/?token=%s" % token, origin=None).status == 101


def test_origin_port_and_case_ignored(proxy):
    token = proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s" % token, origin="http://LOCALHOST:9999",
                                      host="localhost:%d" % proxy.port)
    assert answer.status == 101


def test_origin_in_allowed_origins_accepted(make_harness):
    proxy = make_harness(allowed_origins=("Console.Example.COM:443", "other.example"))
    token = proxy.checker.add(proxy.backend.port,
                              access_url_base="https://console.example.com/vnc_lite.html")
    answer = proxy.client().handshake("/?token=%s" % token,
                                      origin="https://console.example.com")
    assert answer.status == 101


def test_host_header_does_not_poison_allowed_origins(proxy):
    token = proxy.checker.add(proxy.backend.port)
    first = proxy.client().handshake("/?token=%s" % token, origin="http://evil.example",
                                     host="evil.example")
    assert first.status == 101  # same-origin by Host: the client's own business
    second = proxy.client().handshake("/?token=%s" % token, origin="http://evil.example")
    assert second.status == 403
    assert proxy.server.settings.allowed_origins == ()


@pytest.mark.parametrize("origin_scheme,access_url_base,status", [
    ("http", "http://127.0.0.1:6080/vnc_lite.html", 101),
    ("https", "https://127.0.0.1:6080/vnc_lite.html", 101),
    ("https", "http://127.0.0.1:6080/vnc_lite.html", 403),
    ("http", "https://127.0.0.1:6080/vnc_lite.html", 403),
    ("http", "ws://127.0.0.1:6083/", 101),
    ("http", "wss://127.0.0.1:6083/", 403),
    ("https", None, 101),
])
def test_origin_scheme_must_match_access_url(proxy, origin_scheme, access_url_base, status):
    token = proxy.checker.add(proxy.backend.port, access_url_base=access_url_base)
    answer = proxy.client().handshake("/?token=%s" % token,
                                      origin="%s://127.0.0.1:%d" % (origin_scheme, proxy.port))
    assert answer.status == status
    if status == 101:  # the fake console server counts the connection in its own thread
        assert wait_for(lambda: proxy.backend.connections == 1)
    else:
        assert proxy.backend.connections == 0


def test_two_origin_headers_rejected(proxy):
    token = proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s" % token,
                                      headers=[("Origin", "http://evil.example")])
    assert answer.status == 403


# -- console server connection --------------------------------------------------


def test_backend_unreachable_gives_clear_error(proxy, caplog):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    token = proxy.checker.add(port)
    with caplog.at_level(logging.INFO):
        answer = proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 502
    assert answer.reason == "cannot connect to the console server"
    assert "127.0.0.1:%d" % port in caplog.text


def test_backend_connect_timeout_gives_504(proxy, monkeypatch):
    real_create_connection = socket.create_connection

    def create_connection(address, *args, **kwargs):
        if address == ("10.255.255.1", 5900):
            raise TimeoutError("timed out")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(target.socket, "create_connection", create_connection)
    token = proxy.checker.add(5900, host="10.255.255.1")
    answer = proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 504


def test_internal_access_path_connect_handshake_ok(make_harness):
    harness = make_harness(fakes.connect_handshake("/console?id=42"))
    token = harness.checker.add(harness.backend.port, internal_access_path="/console?id=42")
    client = harness.open_session(token)
    # The greeting came in the same TCP segment as the 200: not one byte lost.
    assert client.recv_bytes(12) == b"RFB 003.008\n"
    client.send(b"hello")
    assert client.recv_bytes(5) == b"hello"
    assert harness.backend.requests == [b"CONNECT /console?id=42 HTTP/1.1\r\n\r\n"]


def test_internal_access_path_refused_gives_502(make_harness):
    harness = make_harness(fakes.connect_handshake("/console?id=42"))
    token = harness.checker.add(harness.backend.port, internal_access_path="/other")
    answer = harness.client().handshake("/?token=%s" % token)
    assert answer.status == 502
    assert "refused" in answer.reason


def test_unsupported_websocket_version_rejected_400(proxy):
    token = proxy.checker.add(proxy.backend.port)
    client = proxy.client()
    client.send_raw(("GET /?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: eA==\r\n"
                     "Sec-WebSocket-Version: 99\r\n\r\n" % token).encode())
    assert client._read_answer().status == 400
    assert proxy.checker.calls == []


# -- plain HTTP -----------------------------------------------------------------


def test_non_websocket_get_serves_files(proxy):
    status, headers, body = proxy.http("GET", "/vnc_lite.html?path=%3Ftoken%3Dabc")
    assert (status, body) == (200, INDEX_HTML)
    assert headers["Content-type"] == "text/html"
    status, _, body = proxy.http("HEAD", "/app/ui.js")
    assert (status, body) == (200, b"")


def test_missing_file_gives_404(proxy):
    assert proxy.http("GET", "/nothing.html")[0] == 404


def test_directory_listing_refused(proxy):
    status, _, body = proxy.http("GET", "/app/")
    assert status == 404
    assert b"ui.js" not in body
    assert proxy.http("GET", "/")[0] == 404


def test_path_traversal_stays_in_web_root(proxy):
    status, _, body = proxy.http("GET", "/../../../../etc/passwd")
    assert status == 404
    assert b"root:" not in body


@pytest.mark.parametrize("path", ["//example.com/%2F..", "///example.com/%2F..",
                                  "//example.com/app"])
def test_reject_open_redirect(proxy, path):
    status, headers, _ = proxy.http("GET", path)
    assert status == 400
    assert "Location" not in headers


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "CONNECT"])
def test_other_methods_refused_405(proxy, method):
    status, headers, _ = proxy.http(method, "/vnc_lite.html")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"


def test_proxy_without_web_root_serves_no_files(make_harness, tmp_path, monkeypatch):
    (tmp_path / "secret.txt").write_text("secret")
    monkeypatch.chdir(tmp_path)
    harness = make_harness(web=None)
    status, _, body = harness.http("GET", "/secret.txt")
    assert status == 404
    assert b"secret" not in body.replace(b"serves no files", b"")
    token = harness.checker.add(harness.backend.port)
    assert harness.client().handshake("/?token=%s" % token).status == 101


# -- logging ---------------------------------------------------------------------


def test_token_never_logged(proxy, caplog, capsys):
    token = proxy.checker.add(proxy.backend.port)
    unknown = "unknownToken1234567890abcdefghij"
    with caplog.at_level(logging.DEBUG):
        proxy.http("GET", "/vnc_lite.html?path=%%3Ftoken%%3D%s" % token)
        proxy.http("GET", "/missing.html?token=%s" % token)
        client = proxy.open_session(token)
        client.send(b"data")
        assert client.recv_bytes(4) == b"data"
        client.close()
        client.wait_closed()
        cookie_client = proxy.client()
        assert cookie_client.handshake(
            "/", headers=[("Cookie", "token=%s" % token)]).status == 101
        cookie_client.disconnect()
        assert proxy.client().handshake("/?token=%s" % unknown).status == 403
        assert proxy.client().handshake(
            "/?token=%s" % token, origin="http://evil.example").status == 403
        bad = proxy.client()
        # A malformed request line is quoted in the standard library's error message.
        bad.send_raw(b"GET /?token=%s junk HTTP/1.1\r\n\r\n" % unknown.encode())
        bad.at_eof()
        assert wait_for(lambda: "Console session ended" in caplog.text)
    captured = capsys.readouterr()
    everything = caplog.text + captured.out + captured.err
    assert "Console session started" in everything  # the logs were captured at all
    assert "refused a console connection" in everything
    for secret in (token, unknown):
        assert secret not in everything


def test_redact_tokens_covers_query_cookie_and_novnc_path():
    text = ("GET /?token=abc&x=1 path=%3Ftoken%3Ddef Cookie: token=ghi; "
            "path%3D%253Ftoken%253Djkl")
    redacted = handler.redact_tokens(text)
    for secret in ("abc", "def", "ghi", "jkl"):
        assert secret not in redacted
    assert "x=1" in redacted


# -- TLS and the server ----------------------------------------------------------


def test_tls_sessions_served_when_certificate_configured(make_harness, conf, certificate):
    conf("cert", certificate[0])
    conf("key", certificate[1])
    conf("ssl_minimum_version", "tlsv1_2", group="console")
    harness = make_harness()
    token = harness.checker.add(harness.backend.port,
                                access_url_base="https://127.0.0.1/vnc_lite.html")
    client = fakes.tls_client(harness.port)
    answer = client.handshake("/?token=%s" % token,
                              origin="https://127.0.0.1:%d" % harness.port)
    assert answer.status == 101
    big = os.urandom(300000)
    client.send(big)
    assert client.recv_bytes(len(big)) == big
    # Plain connections still work without ssl_only.
    assert harness.http("GET", "/vnc_lite.html")[0] == 200
    harness.server.stop()  # ends TLS sessions too
    assert harness.backend.ended.wait(3)


def test_ssl_only_refuses_plain_connections(make_harness, conf, certificate):
    conf("cert", certificate[0])
    conf("key", certificate[1])
    conf("ssl_only", True)
    harness = make_harness()
    token = harness.checker.add(harness.backend.port)
    answer = harness.client().handshake("/?token=%s" % token)
    assert answer.status == 400
    assert harness.checker.calls == []
    assert fakes.tls_client(harness.port).handshake("/?token=%s" % token).status == 101


def test_ssl_only_without_certificate_refuses_to_start(conf, tmp_path):
    conf("cert", str(tmp_path / "missing.pem"))
    conf("ssl_only", True)
    with pytest.raises(proxy_server.ConsoleProxyConfigError):
        proxies.make_server(novnc, "127.0.0.1", 0, token_checker=fakes.FakeTokenChecker())


def test_listens_on_ipv6_when_source_is_ipv6(make_harness, conf):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    conf("source_is_ipv6", True)
    try:
        harness = make_harness(host="::1")
    except OSError:
        pytest.skip("cannot listen on ::1")
    assert harness.server._listener.family == socket.AF_INET6
    token = harness.checker.add(harness.backend.port)
    client = fakes.WSClient(harness.port, host="::1")
    assert client.handshake("/?token=%s" % token, host="[::1]:%d" % harness.port,
                            origin="http://[::1]:%d" % harness.port).status == 101
    client.send(b"six")
    assert client.recv_bytes(3) == b"six"


def test_make_server_serves_novnc_from_conf_web(conf, web_root, tmp_path):
    conf("cert", str(tmp_path / "no-such-cert.pem"))
    conf("web", str(web_root))
    checker = fakes.FakeTokenChecker()
    backend = fakes.Backend()
    harness = Harness(proxies.make_server(novnc, "127.0.0.1", 0, token_checker=checker),
                      checker, backend)
    try:
        assert harness.http("GET", "/vnc_lite.html")[2] == INDEX_HTML
        serial = checker.add(backend.port, console_type="serial")
        assert harness.client().handshake("/?token=%s" % serial).status == 403
        assert harness.open_session(checker.add(backend.port))
    finally:
        harness.stop()
        backend.stop()


_EVENTLET_SCRIPT = r"""
import eventlet
eventlet.monkey_patch()
import os, socket, ssl, sys, time
sys.path.insert(0, sys.argv[1])
import fakes
from nova_console import conf as nc_conf
from nova_console.console import concurrency
from nova_console.console import novnc
from nova_console.console import proxies

nc_conf.CONF.set_override("cert", sys.argv[2])
tls = len(sys.argv) > 3
if tls:
    nc_conf.CONF.set_override("key", sys.argv[3])
    nc_conf.CONF.set_override("ssl_only", True)
    client_context = ssl.create_default_context()
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
checker = fakes.FakeTokenChecker()
backend = fakes.Backend(fakes.greet_then_echo(b"RFB 003.008\n"))
server = proxies.make_server(novnc, "127.0.0.1", 0, token_checker=checker)
serving = eventlet.spawn(server.serve_forever)
port = server.address[1]

def session(i):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        sock = client_context.wrap_socket(sock)
    client = fakes.WSClient(port, sock=sock)
    assert client.handshake("/?token=%s" % checker.add(backend.port)).status == 101
    assert client.recv_bytes(12) == b"RFB 003.008\n"
    payload = b"%d" % i * 5000
    client.send(payload)
    assert client.recv_bytes(len(payload)) == payload
    return client

pool = eventlet.GreenPool()
clients = list(pool.imap(session, range(100)))
os_threads = len(os.listdir("/proc/self/task"))
assert os_threads < 10, os_threads  # green threads, not an OS thread per session
clients[0].close()
assert clients[0].wait_closed() == 1000
assert backend.ended.wait(1)
started = time.monotonic()
server.stop()
for client in clients[1:]:
    assert client.at_eof()
assert time.monotonic() - started < 1, "green threads blocked in recv were not woken"
serving.wait()
print("OK")
"""


def _run_under_eventlet(*args):
    env = dict(os.environ)
    repo = os.path.dirname(os.path.dirname(nova_console.__file__))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", _EVENTLET_SCRIPT, os.path.dirname(fakes.__file__)] + list(args),
        capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


def test_serves_sessions_under_eventlet_monkey_patching(tmp_path):
    _run_under_eventlet(str(tmp_path / "no-cert.pem"))


def test_serves_tls_sessions_under_eventlet_monkey_patching(certificate):
    _run_under_eventlet(*certificate)


# -- the request timeout -------------------------------------------------------------


def test_a_client_that_never_finishes_its_request_is_cut_at_the_request_timeout(make_harness):
    """A slow-loris client (one byte at a time, never the blank line) is not kept
    alive by its trickle: the whole head must arrive within the request timeout."""
    harness = make_harness(request_timeout=1)
    client = harness.client()
    started = time.monotonic()
    closed = None
    try:
        for byte in b"GET /?token=abc HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            client.send_raw(bytes([byte]))
            time.sleep(0.05)
    except OSError:
        closed = time.monotonic() - started
    if closed is None:
        assert client.at_eof()
        closed = time.monotonic() - started
    assert closed < 4, "still connected %.1f s after a 1 s request timeout" % closed
    assert harness.checker.calls == []


def test_a_request_within_the_timeout_is_not_cut_by_it(make_harness):
    harness = make_harness(request_timeout=1)
    client = harness.open_session(harness.checker.add(harness.backend.port))
    time.sleep(1.5)  # the session outlives the request timeout: it is over by then
    client.send(b"still here")
    assert client.recv_bytes(10) == b"still here"


# -- the session events -----------------------------------------------------------------


class RecordingObserver(events.SessionObserver):
    def __init__(self):
        self.seen = []
        self.ended_event = threading.Event()

    def refused(self, session, refusal):
        self.seen.append(("refused", refusal.kind, session.token, session.instance_uuid))

    def started(self, session):
        self.seen.append(("started", session.console_type, session.instance_uuid))

    def ended(self, session):
        self.seen.append(("ended", session.bytes_to_console, session.bytes_to_client,
                          session.end_reason))
        self.ended_event.set()


class BrokenObserver(events.SessionObserver):
    def started(self, session):
        raise RuntimeError("an observer's bug")


def test_every_connection_ends_in_one_session_event_told_to_every_observer(make_harness):
    recorder = RecordingObserver()
    harness = make_harness(observers=(BrokenObserver(), events.LOG_OBSERVER, recorder))
    token = harness.checker.add(harness.backend.port)
    instance = harness.checker.tokens[token]["instance_uuid"]
    client = harness.open_session(token)  # a broken observer does not break a console
    client.send(b"12345")
    assert client.recv_bytes(5) == b"12345"
    client.close()
    client.wait_closed()
    assert recorder.ended_event.wait(5)
    assert harness.client().handshake("/?token=wrong").status == 403
    assert harness.client().handshake("/").status == 403
    assert wait_for(lambda: len(recorder.seen) == 4)
    assert recorder.seen[0] == ("started", "novnc", instance)
    assert recorder.seen[1] == ("ended", 5, 5, "client closed the WebSocket")
    assert recorder.seen[2][:2] == ("refused", target.INVALID_TOKEN)
    assert recorder.seen[2][2].startswith("sha256:") and "wrong" not in recorder.seen[2][2]
    assert recorder.seen[3][:2] == ("refused", target.MISSING_TOKEN)


# -- the negotiator slot -----------------------------------------------------------------


class HelloNegotiator(negotiator.Negotiator):
    """Reads the client's 5-byte hello, answers it, tells the console server who
    came; then the relay takes over."""

    name = "hello"

    def negotiate(self, client, backend, connect_info):
        hello = client.recv_exactly(5)
        if hello != b"HELLO":
            raise negotiator.NegotiationFailed("the client did not say hello")
        client.sendall(b"WELCOME")
        backend.sendall(b"[client for %s]" % connect_info.instance_uuid.encode())


def test_a_negotiator_speaks_with_both_ends_before_the_relay(make_harness):
    harness = make_harness(negotiator=HelloNegotiator())
    token = harness.checker.add(harness.backend.port)
    instance = harness.checker.tokens[token]["instance_uuid"]
    client = harness.client()
    # The hello and the first console bytes in one write: the negotiator reads only
    # its 5 bytes, the rest must still reach the console.
    answer = client.handshake("/?token=%s" % token,
                              trailing=fakes.encode_frame(0x2, b"HELLOtyped"))
    assert answer.status == 101
    assert client.recv_bytes(7) == b"WELCOME"
    expected = b"[client for %s]typed" % instance.encode()
    assert client.recv_bytes(len(expected)) == expected  # the echo console server


def test_a_failed_negotiation_refuses_the_console_with_a_close_frame(make_harness):
    recorder = RecordingObserver()
    harness = make_harness(negotiator=HelloNegotiator(), observers=(recorder,))
    client = harness.open_session(harness.checker.add(harness.backend.port))
    client.send(b"HOWDY")
    assert client.wait_closed() == websocket.CLOSE_POLICY_VIOLATION
    assert harness.backend.ended.wait(3)
    assert wait_for(lambda: recorder.seen)
    assert recorder.seen[0][:2] == ("refused", target.NEGOTIATION_FAILED)


# -- an integrator's websockify auth plugin ----------------------------------------------


def test_a_websockify_auth_plugin_is_asked_after_the_token(make_harness):
    plugin = proxy_settings.load_auth_plugin("BasicHTTPAuth", "alice:secret")
    harness = make_harness(auth_plugin=plugin)
    token = harness.checker.add(harness.backend.port)
    answer = harness.client().handshake("/?token=%s" % token)
    assert answer.status == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="Websockify"'
    assert answer.body == b""
    assert harness.backend.connections == 0
    credentials = base64.b64encode(b"alice:secret").decode()
    answer = harness.client().handshake("/?token=%s" % token,
                                        headers=[("Authorization", "Basic " + credentials)])
    assert answer.status == 101


def test_a_client_cannot_claim_a_tls_client_certificate_by_header(make_harness):
    plugin = proxy_settings.load_auth_plugin("ClientCertCNAuth", "admin-cn")
    harness = make_harness(auth_plugin=plugin)
    token = harness.checker.add(harness.backend.port)
    answer = harness.client().handshake("/?token=%s" % token,
                                        headers=[("SSL_CLIENT_S_DN_CN", "admin-cn")])
    assert answer.status == 403
    assert harness.backend.connections == 0


def test_proxy_settings_are_read_from_the_configuration(conf, tmp_path):
    conf("allowed_origins", ["dashboard.example"], group="console")
    conf("request_timeout", 7, group="console")
    conf("enforce_session_timeout", True, group="consoleauth")
    conf("auth_plugin", "BasicHTTPAuth", group="console")
    conf("auth_source", "u:p", group="console")
    conf("web", str(tmp_path))
    read = novnc.settings("127.0.0.1", 0)
    assert read.allowed_origins == ("dashboard.example",)
    assert (read.request_timeout, read.enforce_session_timeout) == (7, True)
    assert read.web_root == str(tmp_path) and read.console_types == ("novnc",)
    assert read.auth_plugin.src == "u:p"
