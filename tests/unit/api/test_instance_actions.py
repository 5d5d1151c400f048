"""/v2.1/servers/{id}/os-instance-actions: create, delete and reboot, by request id."""
from tests.unit.api.conftest import ADMIN, BOB

SERVERS = "/v2.1/servers"


def _actions(client, server_id, **kwargs):
    return client.get(SERVERS + "/%s/os-instance-actions" % server_id, **kwargs)


def test_create_and_reboot_are_listed_newest_first_with_their_request_ids(client):
    created = client.post(SERVERS, {"server": {"name": "a"}})
    server_id = created.json["server"]["id"]
    from nova_console.db import api as db
    db.instance_update(server_id, {"vm_state": "active", "task_state": None})
    rebooted = client.post(SERVERS + "/%s/action" % server_id, {"reboot": {"type": "SOFT"}})
    actions = _actions(client, server_id).json["instanceActions"]
    assert [(a["action"], a["request_id"]) for a in actions] == [
        ("reboot", rebooted.headers["X-OpenStack-Request-ID"]),
        ("create", created.headers["X-OpenStack-Request-ID"])]
    assert (actions[1]["user_id"], actions[1]["project_id"], actions[1]["instance_uuid"],
            actions[1]["message"]) == ("alice", "tenant-a", server_id, None)
    assert len(actions[1]["start_time"]) == len("2018-04-25T01:26:29.000000")
    assert "updated_at" not in actions[0]


def test_show_gives_one_action_and_events_from_2_51_or_to_admins(client, make_server):
    server_id = make_server()
    request_id = _actions(client, server_id).json["instanceActions"][0]["request_id"]
    path = SERVERS + "/%s/os-instance-actions/%s" % (server_id, request_id)
    action = client.get(path).json["instanceAction"]
    assert action["action"] == "create" and "events" not in action
    assert client.get(path, token=ADMIN).json["instanceAction"]["events"] == []
    assert client.get(path, version="2.51").json["instanceAction"]["events"] == []
    assert "updated_at" in client.get(path, version="2.58").json["instanceAction"]


def test_an_unknown_request_id_is_a_404_worded_as_nova(client, make_server):
    server_id = make_server()
    response = client.get(SERVERS + "/%s/os-instance-actions/req-nope" % server_id)
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == "Action req-nope not found"


def test_another_tenants_server_actions_are_not_found(client, make_server):
    server_id = make_server()
    assert _actions(client, server_id, token=BOB).status_int == 404


def test_a_deleted_servers_actions_stay_readable_from_2_21(client, make_server):
    from nova_console.db import api as db
    server_id = make_server()
    client.delete(SERVERS + "/" + server_id)
    db.instance_destroy(server_id)
    assert _actions(client, server_id, version="2.20").status_int == 404
    actions = _actions(client, server_id, version="2.21", token=ADMIN).json["instanceActions"]
    assert [a["action"] for a in actions] == ["delete", "create"]
