"""nova-serialproxy over real sockets: a serial console page's WebSocket, with the
'binary' and 'base64' subprotocols, to a TCP serial port. Fake consoleauth; the
core it shares with the other proxies is tested in test_proxy.py."""
import base64

import pytest

from nova_console.console import serial
from nova_console.console import websocket

from . import fakes
from .conftest import wait_for



@pytest.fixture
def serial_proxy(make_harness):
    return make_harness(fakes.recording_echo, proxy=serial)


def serial_token(harness, **info):
    info.setdefault("access_url_base", "ws://127.0.0.1:%d/" % harness.port)
    return harness.checker.add(harness.backend.port, console_type="serial", **info)


def open_serial(harness, protocols="binary", **kwargs):
    client = harness.client()
    answer = client.handshake("/?token=%s" % serial_token(harness), protocols=protocols,
                              **kwargs)
    return client, answer


@pytest.mark.parametrize("offered,chosen", [
    ("binary, base64", "binary"), ("base64, binary", "binary"), ("base64", "base64"),
    ("binary", "binary"), (None, None)])
def test_the_proxy_prefers_binary_and_speaks_base64_to_who_asks_only_for_it(
        serial_proxy, offered, chosen):
    client, answer = open_serial(serial_proxy, protocols=offered)
    assert answer.status == 101
    assert answer.headers.get("sec-websocket-protocol") == chosen


def test_typed_bytes_reach_the_serial_port_and_its_echo_comes_back(serial_proxy):
    client, _ = open_serial(serial_proxy, protocols="binary, base64")
    client.send(b"uname -a\r\n\x03")
    assert client.recv_bytes(11) == b"uname -a\r\n\x03"
    assert b"".join(serial_proxy.backend.requests) == b"uname -a\r\n\x03"


def test_base64_sessions_carry_the_same_bytes_in_text_frames(serial_proxy):
    client, _ = open_serial(serial_proxy, protocols="base64")
    payload = bytes(range(256))
    client.send_raw(fakes.encode_frame(websocket.OP_TEXT, base64.b64encode(payload)))
    echoed = b""
    while len(echoed) < len(payload):
        opcode, text = client.recv_frame()
        assert opcode == websocket.OP_TEXT
        echoed += base64.b64decode(text)
    assert echoed == payload
    assert b"".join(serial_proxy.backend.requests) == payload


def test_a_text_frame_on_a_binary_session_ends_it_with_1003(serial_proxy):
    client, _ = open_serial(serial_proxy, protocols="binary")
    client.send_raw(fakes.encode_frame(websocket.OP_TEXT, b"ls\r\n"))
    assert client.wait_closed() == websocket.CLOSE_UNSUPPORTED_DATA
    assert serial_proxy.backend.requests == []


@pytest.mark.parametrize("opcode,payload,code", [
    (websocket.OP_BINARY, b"ls\r\n", websocket.CLOSE_UNSUPPORTED_DATA),
    (websocket.OP_TEXT, b"not base64!", websocket.CLOSE_INVALID_PAYLOAD),
], ids=["binary-frame", "not-base64"])
def test_a_base64_session_takes_only_base64_text(serial_proxy, opcode, payload, code):
    client, _ = open_serial(serial_proxy, protocols="base64")
    client.send_raw(fakes.encode_frame(opcode, payload))
    assert client.wait_closed() == code
    assert serial_proxy.backend.requests == []


def test_an_unknown_subprotocol_is_refused(serial_proxy):
    _, answer = open_serial(serial_proxy, protocols="vt100")
    assert answer.status == 400
    assert answer.body == b""


def test_a_token_of_another_console_type_is_refused(serial_proxy):
    token = serial_proxy.checker.add(serial_proxy.backend.port, console_type="novnc")
    answer = serial_proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 403
    assert serial_proxy.backend.connections == 0


def test_a_dashboard_on_another_host_needs_allowed_origins(make_harness):
    dashboard = "https://dashboard.example.com"
    closed = make_harness(fakes.recording_echo, proxy=serial)
    _, refused = open_serial(closed, origin=dashboard)
    assert refused.status == 403 and closed.backend.connections == 0
    opened = make_harness(fakes.recording_echo, proxy=serial,
                          allowed_origins=("dashboard.example.com",))
    client = opened.client()
    answer = client.handshake("/?token=%s" % serial_token(
        opened, access_url_base="wss://127.0.0.1:%d/" % opened.port), origin=dashboard)
    assert answer.status == 101


def test_a_serial_port_that_is_down_is_a_clear_502(serial_proxy):
    token = serial_proxy.checker.add(1, console_type="serial")  # nothing listens on port 1
    answer = serial_proxy.client().handshake("/?token=%s" % token)
    assert answer.status == 502
    assert answer.reason == "cannot connect to the console server"
    assert answer.body == b""


def test_the_serial_proxy_serves_no_files(serial_proxy):
    status, headers, body = serial_proxy.http("GET", "/index.html")
    assert status == 404 and body == b""


def test_a_session_ends_when_the_serial_port_closes(make_harness):
    harness = make_harness(fakes.say_and_hang_up(b"login: "), proxy=serial)
    client, _ = open_serial(harness)
    assert client.recv_bytes(7) == b"login: "
    assert client.wait_closed() == websocket.CLOSE_NORMAL
    assert wait_for(lambda: harness.backend.ended_count == 1)
