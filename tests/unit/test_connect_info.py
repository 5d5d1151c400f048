"""connect_info.ConnectInfo: the connection details every service passes on."""
import pytest

from nova_console import connect_info
from nova_console import exception

FULL = {"console_type": "novnc", "host": "10.0.0.5", "port": 5901,
        "internal_access_path": None, "tls_port": None, "instance_uuid": "u-1",
        "access_url_base": "http://p/vnc_lite.html", "expires": 123.0,
        "token": "secret", "access_url": "http://p/vnc_lite.html?path=%3Ftoken%3Dsecret"}


def test_round_trips_through_a_primitive():
    info = connect_info.ConnectInfo.from_primitive(FULL)
    assert info.to_primitive() == FULL
    assert connect_info.ConnectInfo.from_primitive(info.to_primitive()) == info


def test_what_leaves_consoleauth_holds_no_token_and_no_url_with_it():
    public = connect_info.ConnectInfo.from_primitive(FULL).without_secrets()
    primitive = public.to_primitive()
    assert "token" not in primitive and "access_url" not in primitive
    assert "secret" not in repr(connect_info.ConnectInfo.from_primitive(FULL))


def test_a_newer_service_message_with_fields_unknown_here_is_read():
    info = connect_info.ConnectInfo.from_primitive(dict(FULL, session_limit=3))
    assert info.port == 5901


def test_an_older_service_message_without_optional_fields_is_read():
    info = connect_info.ConnectInfo.from_primitive(
        {"console_type": "novnc", "host": "h", "port": "5900"})
    assert (info.port, info.instance_uuid, info.tls_port) == (5900, None, None)


@pytest.mark.parametrize("data,message", [
    ({"host": "h", "port": 1}, "lack console_type"),
    ({"console_type": "novnc", "port": 1}, "lack host"),
    ({"console_type": "novnc", "host": "h", "port": None}, "lack port"),
    ({"console_type": "novnc", "host": "h", "port": "fifty"}, "not a number"),
    ({"console_type": "novnc", "host": "h", "port": 1, "tls_port": "x"}, "not a number"),
    (["novnc"], "must be a dict"),
])
def test_malformed_details_are_refused_with_a_reason(data, message):
    with pytest.raises(exception.Invalid, match=message):
        connect_info.ConnectInfo.from_primitive(data)
