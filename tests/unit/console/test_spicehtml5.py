"""nova-spicehtml5proxy over real sockets: what spice-html5 does (the token as a
cookie only, one WebSocket per SPICE channel, bytes sent at once). Fake
consoleauth; the core it shares with the other proxies is tested in test_proxy.py."""
import threading

import pytest

from nova_console import conf as nc_conf
from nova_console.console import novnc
from nova_console.console import spicehtml5

from . import fakes
from .conftest import wait_for

SPICE_LINK = b"REDQ\x02\x00\x00\x00\x02\x00\x00\x00"  # a link message's start
CHANNELS = ("main", "display", "inputs", "cursor")



@pytest.fixture
def spice_root(tmp_path):
    root = tmp_path / "spice"
    root.mkdir()
    (root / "spice_auto.html").write_text("<html>spice</html>\n")
    return root


@pytest.fixture
def spice_proxy(make_harness, spice_root):
    return make_harness(fakes.recording_echo, proxy=spicehtml5, web_root=str(spice_root))


def spice_token(harness):
    return harness.checker.add(
        harness.backend.port, console_type="spice-html5",
        access_url_base="http://127.0.0.1:%d/spice_auto.html" % harness.port)


def open_channel(harness, token, path="/websockify", **kwargs):
    """A WebSocket as spice-html5 opens it: the token in a cookie, none in the URL."""
    client = harness.client()
    answer = client.handshake(path, headers=[("Cookie", "token=%s" % token)], **kwargs)
    return client, answer


def test_spice_html5_reaches_the_console_with_the_token_cookie_alone(spice_proxy):
    client, answer = open_channel(spice_proxy, spice_token(spice_proxy))
    assert answer.status == 101
    client.send(SPICE_LINK)
    assert client.recv_bytes(len(SPICE_LINK)) == SPICE_LINK


def test_bytes_sent_with_the_upgrade_request_are_kept(spice_proxy):
    client, answer = open_channel(spice_proxy, spice_token(spice_proxy),
                                  trailing=fakes.encode_frame(0x2, SPICE_LINK))
    assert answer.status == 101
    assert client.recv_bytes(len(SPICE_LINK)) == SPICE_LINK
    assert b"".join(spice_proxy.backend.requests) == SPICE_LINK


def test_one_token_admits_every_channel_of_a_client_at_once(spice_proxy):
    token = spice_token(spice_proxy)
    answers, barrier = {}, threading.Barrier(len(CHANNELS))

    def channel(name):
        barrier.wait()
        client, answer = open_channel(spice_proxy, token)
        client.send(name.encode())
        answers[name] = (answer.status, client.recv_bytes(len(name)))

    threads = [threading.Thread(target=channel, args=(name,)) for name in CHANNELS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert answers == {name: (101, name.encode()) for name in CHANNELS}
    assert spice_proxy.backend.connections == len(CHANNELS)


def test_a_url_token_that_disagrees_with_the_cookie_is_refused(spice_proxy):
    token, other = spice_token(spice_proxy), spice_token(spice_proxy)
    client, answer = open_channel(spice_proxy, token, path="/websockify?token=%s" % other)
    assert answer.status == 400
    assert answer.reason == "the request carries tokens that disagree"
    assert spice_proxy.backend.connections == 0 and spice_proxy.checker.calls == []


def test_the_same_token_in_url_and_cookie_is_fine(spice_proxy):
    token = spice_token(spice_proxy)
    _, answer = open_channel(spice_proxy, token, path="/websockify?token=%s" % token)
    assert answer.status == 101


def test_novnc_keeps_the_url_token_over_a_cookie_left_by_spice(proxy):
    """spice-html5 sets its cookie for the whole host for a day: noVNC on another port
    of that host must not be refused for it."""
    token = proxy.checker.add(proxy.backend.port)
    stale = proxy.checker.add(proxy.backend.port, console_type="spice-html5")
    client = proxy.client()
    answer = client.handshake("/?token=%s" % token, headers=[("Cookie", "token=%s" % stale)])
    assert answer.status == 101
    assert proxy.checker.calls == [token]


def test_tokens_that_disagree_in_the_url_are_refused_by_every_proxy(proxy):
    first, second = proxy.checker.add(proxy.backend.port), proxy.checker.add(proxy.backend.port)
    answer = proxy.client().handshake("/?token=%s&path=%%3Ftoken%%3D%s" % (first, second))
    assert answer.status == 400 and proxy.backend.connections == 0


def test_a_vnc_token_is_refused_by_the_spice_proxy(spice_proxy):
    token = spice_proxy.checker.add(spice_proxy.backend.port, console_type="novnc")
    _, answer = open_channel(spice_proxy, token)
    assert answer.status == 403 and spice_proxy.backend.connections == 0


def test_a_spice_server_that_is_down_is_a_clear_502(spice_proxy):
    token = spice_proxy.checker.add(1, console_type="spice-html5")
    _, answer = open_channel(spice_proxy, token)
    assert (answer.status, answer.reason) == (502, "cannot connect to the console server")


def test_the_proxy_serves_spice_html5(spice_proxy):
    status, _, body = spice_proxy.http("GET", "/spice_auto.html")
    assert (status, body) == (200, b"<html>spice</html>\n")


def test_by_default_files_come_from_debians_spice_html5_and_cookies_carry_tokens(conf):
    settings = spicehtml5.settings()
    assert settings.web_root == "/usr/share/spice-html5"
    assert settings.token_cookie is True
    assert (settings.host, settings.port) == ("0.0.0.0", 6082)
    assert novnc.settings().token_cookie is False
    assert nc_conf.CONF.spice.html5proxy_base_url == "http://127.0.0.1:6082/spice_auto.html"


def test_sessions_end_when_the_spice_server_closes(make_harness, spice_root):
    harness = make_harness(fakes.say_and_hang_up(b"REDQ"), proxy=spicehtml5,
                           web_root=str(spice_root))
    client, _ = open_channel(harness, spice_token(harness))
    assert client.recv_bytes(4) == b"REDQ"
    client.wait_closed()
    assert wait_for(lambda: harness.backend.ended_count == 1)
