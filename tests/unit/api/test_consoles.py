"""Console URLs: the legacy server actions and /remote-consoles (>= 2.6)."""
import logging

import oslo_messaging as messaging
import pytest

from nova_console.db import api as db
from nova_console import exception
from tests.unit.api.conftest import ADMIN, BOB, CONSOLE_URL_BASE


def action_path(server_id):
    return "/v2.1/servers/%s/action" % server_id


def remote_path(server_id):
    return "/v2.1/servers/%s/remote-consoles" % server_id


def vnc_action(console_type="novnc"):
    return {"os-getVNCConsole": {"type": console_type}}


def remote_body(protocol="vnc", console_type="novnc"):
    return {"remote_console": {"protocol": protocol, "type": console_type}}


def test_get_vnc_console_action_returns_the_console_url(client, make_server, consoleauth_rpc):
    server_id = make_server()
    response = client.post(action_path(server_id), vnc_action())
    assert response.status_int == 200
    console = response.json["console"]
    assert console["type"] == "novnc"
    assert console["url"].startswith(CONSOLE_URL_BASE + "?path=%3Ftoken%3D")
    [stored] = consoleauth_rpc.tokens.values()
    assert stored.instance_uuid == server_id


def test_an_admin_may_get_another_tenants_console(client, make_server):
    server_id = make_server(BOB)
    assert client.post(action_path(server_id), vnc_action(), token=ADMIN).status_int == 200


@pytest.mark.parametrize("body,fragment", [
    ({"os-getVNCConsole": {}}, "'type' is a required property"),
    ({"os-getVNCConsole": {"type": "spice-html5"}}, "is not one of ['novnc', 'xvpvnc']"),
    ({"os-getVNCConsole": {"type": 5}}, "is not of type 'string'"),
    ({"os-getVNCConsole": "novnc"}, "is not of type 'object'"),
    ({"os-getVNCConsole": {"type": "novnc", "extra": 1}}, "Additional properties"),
], ids=["missing-type", "wrong-type", "type-not-string", "argument-not-object", "extra-key"])
def test_vnc_action_validates_its_body_like_nova(client, make_server, body, fragment):
    response = client.post(action_path(make_server()), body)
    assert response.status_int == 400
    message = response.json["badRequest"]["message"]
    assert message.startswith("Invalid input for field/attribute")
    assert fragment in message


@pytest.mark.parametrize("raw_body", [b"{bad json", b"[1, 2]", b"null", b"",
                                      b'{"os-getVNCConsole": {"type": "novnc"}, "x": {}}'],
                         ids=["malformed", "array", "null", "empty", "two-actions"])
def test_a_malformed_action_body_is_a_bad_request(client, make_server, raw_body):
    response = client.request("POST", action_path(make_server()), raw_body=raw_body)
    assert response.status_int == 400
    assert response.json["badRequest"]["message"].startswith("Malformed request body")


def test_an_unknown_action_is_a_bad_request(client, make_server):
    response = client.post(action_path(make_server()), {"os-reboot": {"type": "HARD"}})
    assert response.status_int == 400
    assert response.json["badRequest"]["message"] == "There is no such action: os-reboot"


RDP_GONE = ("RDP consoles are no longer available: only the Hyper-V driver had them, "
            "and Nova removed it.")


@pytest.mark.parametrize("action,console_type,url_start", [
    ("os-getSPICEConsole", "spice-html5",
     "http://proxy.example.com:6082/spice_auto.html?token=token-1"),
    ("os-getSerialConsole", "serial", "ws://proxy.example.com:6083/?token=token-1"),
])
def test_spice_and_serial_actions_return_their_console_urls(client, make_server,
                                                            consoleauth_rpc, action,
                                                            console_type, url_start):
    server_id = make_server()
    response = client.post(action_path(server_id), {action: {"type": console_type}})
    assert response.status_int == 200
    assert response.json == {"console": {"type": console_type, "url": url_start}}
    assert consoleauth_rpc.tokens["token-1"].console_type == console_type


@pytest.mark.parametrize("action,wrong", [("os-getSPICEConsole", "novnc"),
                                          ("os-getSerialConsole", "spice-html5")])
def test_each_console_action_takes_only_its_own_types(client, make_server, action, wrong):
    response = client.post(action_path(make_server()), {action: {"type": wrong}})
    assert response.status_int == 400
    assert "is not one of" in response.json["badRequest"]["message"]


def test_rdp_is_answered_400_as_nova_answers_it_now(client, make_server, compute_rpc):
    server_id = make_server()
    legacy = client.post(action_path(server_id), {"os-getRDPConsole": {"type": "rdp-html5"}})
    remote = client.post(remote_path(server_id), remote_body("rdp", "rdp-html5"),
                         version="2.6")
    for response in (legacy, remote):
        assert response.status_int == 400
        assert response.json["badRequest"]["message"] == RDP_GONE
    assert compute_rpc.issued_tokens == 0


def test_a_console_type_the_host_cannot_serve_is_a_clear_400(client, make_server,
                                                             compute_rpc):
    compute_rpc.console_error = exception.ConsoleTypeUnavailable(
        "Unavailable console type spice-html5: Driver fake does not support SPICE "
        "consoles.", console_type="spice-html5")
    response = client.post(action_path(make_server()),
                           {"os-getSPICEConsole": {"type": "spice-html5"}})
    assert response.status_int == 400
    assert response.json["badRequest"]["message"] == (
        "Unavailable console type spice-html5: Driver fake does not support SPICE consoles.")


def test_xvpvnc_console_urls_come_from_both_apis(client, make_server, compute_rpc):
    server_id = make_server()
    legacy = client.post(action_path(server_id), vnc_action("xvpvnc"))
    assert legacy.status_int == 200 and legacy.json["console"]["type"] == "xvpvnc"
    remote = client.post(remote_path(server_id), remote_body("vnc", "xvpvnc"), version="2.6")
    assert remote.status_int == 200
    assert (remote.json["remote_console"]["protocol"],
            remote.json["remote_console"]["type"]) == ("vnc", "xvpvnc")
    assert compute_rpc.issued_tokens == 2


def test_another_tenants_console_is_not_found(client, make_server, compute_rpc):
    server_id = make_server(BOB)
    for path, body in ((action_path(server_id), vnc_action()),
                       (remote_path(server_id), remote_body())):
        response = client.post(path, body, version="2.6")
        assert response.status_int == 404
        assert response.json["itemNotFound"]["message"] == (
            "Instance %s could not be found." % server_id)
    assert compute_rpc.issued_tokens == 0


def test_an_unknown_server_has_no_console(client):
    response = client.post(action_path("8c8c7a0e-4f3e-4a43-8a1b-4a8d5f0f1e2d"), vnc_action())
    assert response.status_int == 404


def test_a_building_server_has_no_console_yet(client, make_server):
    response = client.post(action_path(make_server(active=False)), vnc_action())
    assert response.status_int == 409
    assert response.json["conflictingRequest"]["message"].endswith("is not ready")


def test_a_server_being_deleted_gives_no_console(client, make_server):
    server_id = make_server()
    db.instance_update(server_id, {"task_state": "deleting"})
    response = client.post(action_path(server_id), vnc_action())
    assert response.status_int == 409


def test_a_compute_host_that_does_not_answer_gives_503(client, make_server, compute_rpc):
    compute_rpc.console_error = messaging.MessagingTimeout("no answer")
    response = client.post(action_path(make_server()), vnc_action())
    assert response.status_int == 503
    assert response.json["serviceUnavailable"]["message"] == (
        "Compute host compute-1 did not answer in time.")


def test_a_driver_without_consoles_gives_501(client, make_server, compute_rpc):
    compute_rpc.console_error = exception.NotImplementedByDriver(driver="fake",
                                                                 feature="VNC consoles")
    response = client.post(action_path(make_server()), vnc_action())
    assert response.status_int == 501
    assert response.json["notImplemented"]["message"] == (
        "Driver fake does not support VNC consoles.")


def test_an_unexpected_error_is_a_compute_fault_without_details(client, make_server,
                                                                 compute_rpc, caplog):
    compute_rpc.console_error = RuntimeError("db password is hunter2")
    with caplog.at_level(logging.ERROR, logger="nova_console.api.app"):
        response = client.post(action_path(make_server()), vnc_action())
    assert response.status_int == 500
    fault = response.json["computeFault"]
    assert fault["code"] == 500
    assert response.headers["X-OpenStack-Request-ID"] in fault["message"]
    assert b"hunter2" not in response.body and b"Traceback" not in response.body
    [record] = [r for r in caplog.records if r.name == "nova_console.api.app"
                and r.levelno == logging.ERROR]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])


def test_remote_console_returns_protocol_type_and_url(client, make_server):
    response = client.post(remote_path(make_server()), remote_body(), version="2.6")
    assert response.status_int == 200
    remote = response.json["remote_console"]
    assert (remote["protocol"], remote["type"]) == ("vnc", "novnc")
    assert remote["url"].startswith(CONSOLE_URL_BASE)
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.6"


def test_remote_consoles_do_not_exist_before_2_6(client, make_server):
    response = client.post(remote_path(make_server()), remote_body(), version="2.5")
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == (
        "API version 2.5 is not supported on this method.")


@pytest.mark.parametrize("body", [
    {},
    {"remote_console": {"protocol": "vnc"}},
    {"remote_console": {"type": "novnc"}},
    {"remote_console": {"protocol": "telnet", "type": "novnc"}},
    {"remote_console": {"protocol": "vnc", "type": "vt100"}},
    {"remote_console": {"protocol": "vnc", "type": "novnc", "x": 1}},
    {"remote_console": "vnc"},
    {"remote_console": remote_body()["remote_console"], "extra": 1},
], ids=["empty", "no-type", "no-protocol", "bad-protocol", "bad-type", "extra-key",
        "not-object", "extra-top-level-key"])
def test_remote_console_validates_its_body(client, make_server, body):
    response = client.post(remote_path(make_server()), body, version="2.6")
    assert response.status_int == 400
    assert "badRequest" in response.json


def test_remote_console_rejects_a_type_of_another_protocol(client, make_server):
    response = client.post(remote_path(make_server()), remote_body("vnc", "serial"),
                           version="2.6")
    assert response.status_int == 400
    assert response.json["badRequest"]["message"] == "Invalid console type serial"


@pytest.mark.parametrize("protocol,console_type,version", [
    ("vnc", "novnc", "2.6"), ("vnc", "xvpvnc", "2.6"), ("spice", "spice-html5", "2.6"),
    ("serial", "serial", "2.6"), ("mks", "webmks", "2.8"), ("spice", "spice-direct", "2.99"),
])
def test_remote_consoles_give_every_protocol_and_type_of_novas_table(
        client, make_server, consoleauth_rpc, protocol, console_type, version):
    response = client.post(remote_path(make_server()), remote_body(protocol, console_type),
                           version=version)
    assert response.status_int == 200
    remote = response.json["remote_console"]
    assert (remote["protocol"], remote["type"]) == (protocol, console_type)
    [(token, stored)] = consoleauth_rpc.tokens.items()
    assert stored.console_type == console_type
    assert token in remote["url"]


@pytest.mark.parametrize("protocol,console_type,first_version", [
    ("mks", "webmks", "2.8"), ("spice", "spice-direct", "2.99")])
def test_newer_console_types_exist_only_from_their_microversion(
        client, make_server, protocol, console_type, first_version):
    major, minor = first_version.split(".")
    before = "%s.%d" % (major, int(minor) - 1)
    server_id = make_server()
    early = client.post(remote_path(server_id), remote_body(protocol, console_type),
                        version=before)
    later = client.post(remote_path(server_id), remote_body(protocol, console_type),
                        version=first_version)
    assert early.status_int == 400
    assert "is not one of" in early.json["badRequest"]["message"]
    assert later.status_int == 200


def test_spice_direct_has_no_legacy_action(client, make_server):
    response = client.post(action_path(make_server()),
                           {"os-getSPICEConsole": {"type": "spice-direct"}})
    assert response.status_int == 400
    assert "is not one of ['spice-html5']" in response.json["badRequest"]["message"]


def test_remote_console_of_a_building_server_is_a_conflict(client, make_server):
    response = client.post(remote_path(make_server(active=False)), remote_body(),
                           version="2.96")
    assert response.status_int == 409


def test_an_internal_error_class_of_ours_keeps_its_details_private(client, make_server,
                                                                   compute_rpc):
    compute_rpc.console_error = exception.DriverLoadError(driver="libvirt",
                                                          reason="/etc/secret.conf unreadable")
    response = client.post(action_path(make_server()), vnc_action())
    assert response.status_int == 500
    assert "computeFault" in response.json
    assert b"secret.conf" not in response.body


def test_consoleauth_that_does_not_answer_gives_503(client, make_server, consoleauth_rpc):
    def no_answer(*args, **kwargs):
        raise messaging.MessagingTimeout("consoleauth is gone")

    consoleauth_rpc.authorize_console = no_answer
    response = client.post(action_path(make_server()), vnc_action())
    assert response.status_int == 503
    assert response.json["serviceUnavailable"]["code"] == 503
