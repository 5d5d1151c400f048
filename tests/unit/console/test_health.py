"""GET /healthcheck on every console proxy's port (console/health.py), over real sockets:
the message bus the proxy checks tokens over, the simple view for anyone and the detailed
one from [healthcheck] proxy_detailed_source_ranges, and console sessions undisturbed."""
import json

import pytest
import webob

from nova_console.console import health as console_health
from nova_console.console import proxies
from nova_console.console import server as proxy_server
from nova_console.console import xvp
from nova_console import rpc
from tests.unit.test_health import closed_port

JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def fresh_health():
    console_health.reset()
    yield
    console_health.reset()
    rpc.cleanup()


@pytest.fixture
def bus_up(fake_transport):
    """The process' transport: oslo.messaging's in-memory one."""


@pytest.fixture
def bus_down(conf):
    """The process' transport points at a broker that refuses connections."""
    rpc.cleanup()
    rpc.init(url="rabbit://guest:guest@127.0.0.1:%d/" % closed_port())


@pytest.mark.parametrize("proxy", proxies.ALL, ids=lambda proxy: proxy.NAME)
def test_every_proxy_answers_healthcheck_200(bus_up, make_harness, proxy):
    status, headers, body = make_harness(proxy=proxy).http("GET", "/healthcheck")
    assert (status, body) == (200, b"OK")
    assert headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("proxy", proxies.ALL, ids=lambda proxy: proxy.NAME)
def test_every_proxy_answers_503_when_the_message_bus_is_down(bus_down, make_harness, proxy):
    status, _, body = make_harness(proxy=proxy).http("GET", "/healthcheck")
    assert (status, body) == (503, b"UNAVAILABLE")


def test_xvp_proxy_answers_get_healthcheck_and_still_refuses_other_gets(bus_up, make_harness):
    harness = make_harness(proxy=xvp)
    assert harness.http("GET", "/healthcheck")[0] == 200
    status, headers, body = harness.http("GET", "/console")
    assert (status, headers["Allow"], body) == (405, "CONNECT", b"")


def test_head_healthcheck_answers_204_without_a_body(bus_up, proxy):
    status, _, body = proxy.http("HEAD", "/healthcheck")
    assert (status, body) == (204, b"")


def test_detailed_view_from_loopback_says_why_the_bus_is_down(bus_down, proxy):
    status, _, body = proxy.http("GET", "/healthcheck", headers=JSON)
    document = json.loads(body)
    assert status == 503 and document["detailed"] is True
    [reason] = document["reasons"]
    assert reason["class"] == "MessageBusResult"
    assert "message bus" in reason["details"] and "refused" in reason["details"].lower()


def test_detailed_view_is_refused_outside_the_detailed_source_ranges(bus_down, conf, proxy):
    conf("proxy_detailed_source_ranges", ["10.0.0.0/8"], group="healthcheck")
    console_health.reset()
    status, _, body = proxy.http("GET", "/healthcheck", headers=JSON)
    assert status == 503
    assert json.loads(body) == {"detailed": False, "reasons": ["UNAVAILABLE"]}


@pytest.mark.parametrize("header", console_health.FORWARDING_HEADERS)
def test_detailed_view_is_refused_to_a_request_a_reverse_proxy_forwarded(bus_down, proxy,
                                                                         header):
    """A TLS terminator on the same host forwards the world's requests from loopback."""
    status, _, body = proxy.http("GET", "/healthcheck",
                                 headers=dict(JSON, **{header: "198.51.100.7"}))
    assert status == 503
    assert json.loads(body) == {"detailed": False, "reasons": ["UNAVAILABLE"]}


def test_disable_by_file_drains_a_proxy(bus_up, conf, make_harness, tmp_path):
    flag = tmp_path / "drain"
    flag.touch()
    conf("backends", ["disable_by_file"], group="healthcheck")
    conf("disable_by_file_path", str(flag), group="healthcheck")
    status, _, body = make_harness().http("GET", "/healthcheck")
    assert (status, body) == (503, b"DISABLED BY FILE\nOK")


def test_healthcheck_does_not_disturb_an_open_console_session(bus_up, proxy):
    token = proxy.checker.add(proxy.backend.port)
    session = proxy.open_session(token)
    session.send(b"before")
    assert session.recv_bytes(6) == b"before"
    assert proxy.http("GET", "/healthcheck")[0] == 200
    session.send(b"after")
    assert session.recv_bytes(5) == b"after"


def test_healthcheck_asks_no_token_and_no_console_server(bus_up, proxy):
    proxy.http("GET", "/healthcheck?token=abc")
    assert proxy.checker.calls == []
    assert proxy.backend.connections == 0


def test_novnc_proxy_still_serves_its_files(bus_up, proxy):
    status, _, body = proxy.http("GET", "/vnc_lite.html")
    assert status == 200 and b"noVNC" in body


def test_a_wrong_detailed_source_range_stops_the_proxy_at_start(conf, make_harness):
    conf("proxy_detailed_source_ranges", ["not-a-network"], group="healthcheck")
    with pytest.raises(proxy_server.ConsoleProxyConfigError, match="proxy_detailed_source_ranges"):
        make_harness()


@pytest.mark.parametrize("address, detailed", [("127.0.0.1", True), ("::1", True),
                                               ("::ffff:127.0.0.1", True),
                                               ("192.0.2.1", False), ("garbage", False)])
def test_detailed_view_rule_by_client_address(address, detailed):
    rule = console_health.detailed_view_rule(["127.0.0.0/8", "::1/128"])
    assert rule(webob.Request.blank("/healthcheck", remote_addr=address)) is detailed
