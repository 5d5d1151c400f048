"""os-getConsoleOutput: the tail of what the guest wrote to its serial port."""
import oslo_messaging as messaging
import pytest

from nova_console.db import api as db
from nova_console import exception
from tests.unit.api.conftest import ADMIN, BOB


def action_path(server_id):
    return "/v2.1/servers/%s/action" % server_id


def output_action(**argument):
    return {"os-getConsoleOutput": argument}


def test_console_output_answers_200_with_the_hosts_output(client, make_server, compute_rpc):
    server_id = make_server()
    compute_rpc.console_output = "nova_console guest vm ready\n"
    response = client.post(action_path(server_id), output_action(length=5))
    assert response.status_int == 200
    assert response.json == {"output": "nova_console guest vm ready\n"}
    assert compute_rpc.output_requests == [(server_id, 5)]


@pytest.mark.parametrize("argument,tail_length", [
    ({}, None),
    ({"length": None}, None),
    ({"length": -1}, None),
    ({"length": 0}, 0),
    ({"length": 50}, 50),
    ({"length": "50"}, 50),
    ({"length": "-1"}, None),
], ids=["absent", "null", "minus-one", "zero", "integer", "digit-string", "minus-one-string"])
def test_console_output_length_follows_novas_schema(client, make_server, compute_rpc,
                                                    argument, tail_length):
    server_id = make_server()
    response = client.post(action_path(server_id), {"os-getConsoleOutput": argument})
    assert response.status_int == 200, response.body
    assert compute_rpc.output_requests == [(server_id, tail_length)]


@pytest.mark.parametrize("body,fragment", [
    (output_action(length=-2), "-2 is less than the minimum of -1"),
    (output_action(length="-2"), "-2 is less than the minimum of -1"),
    (output_action(length="ten"), "does not match '^-?[0-9]+$'"),
    (output_action(length="5 "), "does not match"),
    (output_action(length=2.5), "is not of type 'integer', 'string', 'null'"),
    (output_action(length=True), "is not of type 'integer', 'string', 'null'"),
    (output_action(length=[5]), "is not of type 'integer', 'string', 'null'"),
    (output_action(length=5, tail=1), "Additional properties are not allowed"),
    ({"os-getConsoleOutput": "5"}, "is not of type 'object'"),
], ids=["below-minus-one", "below-minus-one-string", "word", "trailing-space", "float",
        "boolean", "list", "extra-key", "argument-not-object"])
def test_console_output_rejects_a_bad_length_with_400(client, make_server, compute_rpc, body,
                                                      fragment):
    response = client.post(action_path(make_server()), body)
    assert response.status_int == 400
    assert fragment in response.json["badRequest"]["message"]
    assert compute_rpc.output_requests == []


def test_console_output_of_a_stopped_server_is_readable(client, make_server, compute_rpc):
    """As in Nova: the log of a guest that stopped tells why."""
    server_id = make_server()
    db.instance_update(server_id, {"vm_state": "stopped", "power_state": 4})
    assert client.post(action_path(server_id), output_action()).status_int == 200


@pytest.mark.parametrize("values", [
    {"vm_state": "building", "task_state": "spawning"},
    {"vm_state": "active", "task_state": "deleting"},
    {"vm_state": "error", "task_state": None},
    {"vm_state": "active", "task_state": None, "host": None},
], ids=["building", "deleting", "error", "no-host"])
def test_console_output_of_a_server_not_running_on_a_host_is_a_conflict(
        client, make_server, compute_rpc, values):
    server_id = make_server()
    db.instance_update(server_id, values)
    response = client.post(action_path(server_id), output_action(length=10))
    assert response.status_int == 409
    assert response.json["conflictingRequest"]["message"] == (
        "Instance %s is not ready" % server_id)
    assert compute_rpc.output_requests == []


def test_console_output_of_another_tenants_server_is_not_found(client, make_server,
                                                              compute_rpc):
    server_id = make_server(BOB)
    assert client.post(action_path(server_id), output_action()).status_int == 404
    assert client.post(action_path(server_id), output_action(), token=ADMIN).status_int == 200
    assert len(compute_rpc.output_requests) == 1


def test_console_output_of_an_unknown_server_is_not_found(client):
    response = client.post(action_path("8c8c7a0e-4f3e-4a43-8a1b-4a8d5f0f1e2d"),
                           output_action())
    assert response.status_int == 404


@pytest.mark.parametrize("error,status,fault", [
    (exception.NotImplementedByDriver(driver="FakeDriver", feature="console output"), 501,
     "notImplemented"),
    (exception.InstanceNotFound(instance_id="x"), 404, "itemNotFound"),
    (exception.InstanceNotRunning(instance_id="x"), 409, "conflictingRequest"),
    (messaging.MessagingTimeout("no answer"), 503, "serviceUnavailable"),
], ids=["driver-without-console-output", "vanished-from-the-host", "not-running",
        "host-does-not-answer"])
def test_console_output_errors_of_the_host_keep_novas_status(client, make_server, compute_rpc,
                                                             error, status, fault):
    compute_rpc.output_error = error
    response = client.post(action_path(make_server()), output_action())
    assert response.status_int == status
    assert response.json[fault]["code"] == status


def test_console_output_from_a_host_too_old_for_it_is_not_implemented(client, make_server,
                                                                      compute, conf):
    """A real RPC client capped at 1.0 refuses before sending anything."""
    from nova_console.compute import rpcapi as compute_rpcapi
    from nova_console import rpc

    conf.set_override("compute", "1.0", group="upgrade_levels")
    rpc.cleanup()
    rpc.init(url="fake://")
    try:
        compute.compute_rpcapi = compute_rpcapi.ComputeAPI()
        response = client.post(action_path(make_server()), output_action())
    finally:
        rpc.cleanup()
    assert response.status_int == 501
    assert "[upgrade_levels] compute caps it at 1.0" in (
        response.json["notImplemented"]["message"])
