"""console_types.py: the one table of console types, as each service reads it."""
import urllib.parse

import pytest

from nova_console import console_types


def test_nova_console_types_and_their_protocols():
    assert {(t.protocol, t.name) for t in console_types.TYPES} == {
        ("vnc", "novnc"), ("vnc", "xvpvnc"), ("spice", "spice-html5"),
        ("spice", "spice-direct"), ("rdp", "rdp-html5"), ("serial", "serial"),
        ("mks", "webmks")}
    assert console_types.get("spice-direct").min_version == "2.99"
    assert console_types.get("webmks").min_version == "2.8"
    assert console_types.get("nothing") is None


def test_each_legacy_action_takes_its_protocols_types():
    assert [t.name for t in console_types.for_action("os-getVNCConsole")] == ["novnc", "xvpvnc"]
    assert [t.name for t in console_types.for_action("os-getSerialConsole")] == ["serial"]
    assert console_types.for_action("os-getConsoleOutput") == ()
    assert "os-getSPICEConsole" in console_types.actions()


def test_each_proxy_serves_its_own_types():
    assert console_types.served_by("nova-novncproxy") == ("novnc",)
    assert console_types.served_by("nova-xvpvncproxy") == ("xvpvnc",)
    assert console_types.served_by("nova-spicehtml5proxy") == ("spice-html5",)
    assert console_types.served_by("nova-serialproxy") == ("serial",)


def test_only_rdp_is_gone_and_every_other_type_can_be_turned_on():
    assert [t.name for t in console_types.TYPES if t.gone] == ["rdp-html5"]
    for kind in console_types.TYPES:
        if not kind.gone:
            assert kind.enabled_option and kind.base_url_option and kind.proxy


@pytest.mark.parametrize("shape,base,expected", [
    (console_types.novnc_path_url, "http://p:6080/vnc_lite.html", {"path": ["?token=T"]}),
    (console_types.token_query_url, "http://p:6081/console", {"token": ["T"]}),
    (console_types.token_query_url, "http://p:6081/console?lang=fr",
     {"lang": ["fr"], "token": ["T"]}),
])
def test_console_urls_carry_the_token_as_each_client_expects(shape, base, expected):
    parts = urllib.parse.urlsplit(shape(base, "T"))
    assert urllib.parse.parse_qs(parts.query) == expected
    assert parts.path == urllib.parse.urlsplit(base).path


def test_only_vnc_consoles_are_on_by_default_as_in_nova(conf):
    assert conf.vnc.enabled is True
    for group in ("spice", "serial_console", "mks"):
        assert getattr(conf, group).enabled is False, group
    assert (conf.serial_console.base_url, conf.serial_console.serialproxy_port) == (
        "ws://127.0.0.1:6083/", 6083)
    assert conf.mks.mksproxy_base_url == "http://127.0.0.1:6090/"
