"""/v2.1/servers: Nova's shapes, validation and tenant isolation."""
import hashlib

import oslo_messaging as messaging
import pytest

from nova_console.conf import catalog as catalog_conf
from nova_console.db import api as db
from tests.unit.api.conftest import ADMIN, ALICE, BOB, COMPUTE_HOST

SERVERS = "/v2.1/servers"
GUEST_IMAGE = catalog_conf.GUEST_IMAGE_ID


def test_create_answers_202_with_id_links_and_location(client, compute_rpc):
    response = client.post(SERVERS, {"server": {"name": "web-1", "imageRef": GUEST_IMAGE,
                                                "flavorRef": 2, "min_count": 1}})
    assert response.status_int == 202
    server = response.json["server"]
    assert set(server) == {"id", "links", "OS-DCF:diskConfig", "security_groups"}
    assert server["OS-DCF:diskConfig"] == "MANUAL"
    assert server["links"][0] == {"rel": "self",
                                  "href": "http://localhost/v2.1/servers/" + server["id"]}
    assert response.headers["Location"] == server["links"][0]["href"]
    assert compute_rpc.built == [server["id"]]
    stored = db.instance_get_by_uuid(server["id"])
    assert (stored["project_id"], stored["user_id"]) == ("tenant-a", "alice")
    assert (stored["image_ref"], stored["flavor_ref"]) == (GUEST_IMAGE, "2")


@pytest.mark.parametrize("server", [
    {},
    {"name": ""},
    {"name": "x" * 256},
    {"name": "   "},
    {"name": " leading-space"},
    {"name": "tab\tinside"},
    {"name": 12},
    {"name": None},
    {"name": "ok", "imageRef": "not-a-uuid"},
    {"name": "ok", "flavorRef": ["list"]},
], ids=["missing", "empty", "too-long", "only-whitespace", "leading-whitespace",
        "control-character", "not-a-string", "null", "imageRef-not-a-uuid", "flavorRef-list"])
def test_create_rejects_an_invalid_server_with_400(client, server):
    response = client.post(SERVERS, {"server": server})
    assert response.status_int == 400
    assert response.json["badRequest"]["code"] == 400
    assert db.instance_get_all() == []


def test_create_accepts_a_255_character_name(client):
    assert client.post(SERVERS, {"server": {"name": "x" * 255}}).status_int == 202


@pytest.mark.parametrize("raw_body", [b"{not json", b"[]", b'"server"', b"", b'{"name": "x"}'],
                         ids=["malformed", "array", "string", "empty", "no-server-key"])
def test_create_rejects_a_body_that_is_not_a_server_object(client, raw_body):
    response = client.request("POST", SERVERS, raw_body=raw_body)
    assert response.status_int == 400
    assert "badRequest" in response.json


def test_create_rejects_a_non_json_content_type_with_415(client):
    response = client.request("POST", SERVERS, raw_body=b"name=x",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_int == 415
    assert response.json["badMediaType"]["code"] == 415


def test_index_lists_only_the_callers_servers(client, make_server):
    mine = make_server(ALICE, name="a")
    make_server(BOB, name="b")
    response = client.get(SERVERS)
    assert response.status_int == 200
    assert response.json == {"servers": [{
        "id": mine, "name": "a",
        "links": [{"rel": "self", "href": "http://localhost/v2.1/servers/" + mine},
                  {"rel": "bookmark", "href": "http://localhost/servers/" + mine}]}]}


def test_index_filters_on_the_exact_name(client, make_server):
    make_server(name="web")
    make_server(name="web-2")
    names = [s["name"] for s in client.get(SERVERS + "?name=web").json["servers"]]
    assert names == ["web"]


def test_all_tenants_lists_every_project_for_an_admin(client, make_server):
    make_server(ALICE, name="a")
    make_server(BOB, name="b")
    own = client.get(SERVERS, token=ADMIN).json["servers"]
    everyone = client.get(SERVERS + "?all_tenants=1", token=ADMIN).json["servers"]
    assert own == []
    assert sorted(s["name"] for s in everyone) == ["a", "b"]


def test_all_tenants_is_forbidden_to_a_non_admin(client, make_server):
    make_server(BOB)
    response = client.get(SERVERS + "/detail?all_tenants=true")
    assert response.status_int == 403
    assert response.json["forbidden"]["code"] == 403


def test_all_tenants_with_a_nonsense_value_is_a_400(client):
    assert client.get(SERVERS + "?all_tenants=maybe", token=ADMIN).status_int == 400


def test_show_gives_nova_server_view(client, make_server):
    server_id = make_server()
    response = client.get(SERVERS + "/" + server_id)
    assert response.status_int == 200
    server = response.json["server"]
    assert server["status"] == "ACTIVE"
    assert (server["tenant_id"], server["user_id"]) == ("tenant-a", "alice")
    assert server["hostId"] == hashlib.sha224(b"tenant-a" + COMPUTE_HOST.encode()).hexdigest()
    assert server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-EXT-STS:task_state"] is None
    assert server["OS-EXT-STS:power_state"] == 1
    assert server["created"].endswith("Z") and "T" in server["created"]
    assert server["addresses"] == {} and server["metadata"] == {}
    assert server["image"] == {"id": GUEST_IMAGE, "links": [
        {"rel": "bookmark", "href": "http://localhost/images/" + GUEST_IMAGE}]}
    assert server["flavor"] == {"id": "1", "links": [
        {"rel": "bookmark", "href": "http://localhost/flavors/1"}]}
    assert "fault" not in server


def test_show_hides_the_compute_host_from_non_admins(client, make_server):
    server_id = make_server()
    assert "OS-EXT-SRV-ATTR:host" not in client.get(SERVERS + "/" + server_id).json["server"]
    admin_view = client.get(SERVERS + "/" + server_id, token=ADMIN).json["server"]
    assert admin_view["OS-EXT-SRV-ATTR:host"] == COMPUTE_HOST


@pytest.mark.parametrize("vm_state,task_state,status", [
    ("building", "spawning", "BUILD"),
    ("active", None, "ACTIVE"),
    ("active", "deleting", "ACTIVE"),
    ("error", None, "ERROR"),
    ("stopped", None, "SHUTOFF"),
    ("active", "rebooting", "REBOOT"),
    ("active", "rebooting_hard", "HARD_REBOOT"),
    ("error", "rebooting", "ERROR"),
    ("no-such-state", None, "UNKNOWN"),
])
def test_status_follows_nova_mapping(client, make_server, vm_state, task_state, status):
    server_id = make_server(active=False)
    db.instance_update(server_id, {"vm_state": vm_state, "task_state": task_state})
    assert client.get(SERVERS + "/" + server_id).json["server"]["status"] == status


def test_a_server_in_error_shows_its_fault(client, make_server):
    server_id = make_server(active=False)
    db.instance_update(server_id, {"vm_state": "error", "task_state": None,
                                   "fault": "Build failed: no disk"})
    fault = client.get(SERVERS + "/" + server_id).json["server"]["fault"]
    assert fault["code"] == 500
    assert fault["message"] == "Build failed: no disk"
    assert fault["created"].endswith("Z")


def test_detail_lists_full_views_of_the_callers_servers(client, make_server):
    make_server(name="a")
    make_server(BOB, name="b")
    servers = client.get(SERVERS + "/detail").json["servers"]
    assert [(s["name"], s["status"], s["tenant_id"]) for s in servers] == [
        ("a", "ACTIVE", "tenant-a")]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_tenants_server_is_not_found(client, make_server, method):
    server_id = make_server(BOB)
    response = client.request(method, SERVERS + "/" + server_id, token=ALICE)
    assert response.status_int == 404
    assert response.json == {"itemNotFound": {
        "code": 404, "message": "Instance %s could not be found." % server_id}}
    assert db.instance_get_by_uuid(server_id)["task_state"] is None


def test_an_unknown_server_is_not_found(client):
    response = client.get(SERVERS + "/not-a-uuid")
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == "Instance not-a-uuid could not be found."


def test_delete_answers_204_and_terminates_on_the_host(client, make_server, compute_rpc,
                                                       consoleauth_rpc):
    server_id = make_server()
    client.post(SERVERS + "/%s/action" % server_id, {"os-getVNCConsole": {"type": "novnc"}})
    response = client.delete(SERVERS + "/" + server_id)
    assert response.status_int == 204
    assert response.body == b""
    assert compute_rpc.terminated == [server_id]
    assert consoleauth_rpc.tokens == {}


def test_deleting_a_server_being_deleted_again_is_a_204_that_sends_nothing(
        client, make_server, compute_rpc):
    server_id = make_server()
    assert client.delete(SERVERS + "/" + server_id).status_int == 204
    response = client.delete(SERVERS + "/" + server_id)
    assert response.status_int == 204
    assert compute_rpc.terminated == [server_id]


def test_an_admin_may_delete_another_tenants_server(client, make_server):
    server_id = make_server(BOB)
    assert client.delete(SERVERS + "/" + server_id, token=ADMIN).status_int == 204


# --- the reboot action ---------------------------------------------------------------------

def reboot(client, server_id, reboot_type="HARD", **kwargs):
    return client.post(SERVERS + "/%s/action" % server_id, {"reboot": {"type": reboot_type}},
                       **kwargs)


@pytest.mark.parametrize("reboot_type,task_state,status", [
    ("HARD", "rebooting_hard", "HARD_REBOOT"),
    ("hard", "rebooting_hard", "HARD_REBOOT"),
    ("Soft", "rebooting", "REBOOT"),
    ("SOFT", "rebooting", "REBOOT"),
])
def test_reboot_answers_202_and_asks_the_host(client, make_server, compute_rpc, reboot_type,
                                              task_state, status):
    server_id = make_server()
    response = reboot(client, server_id, reboot_type)
    assert response.status_int == 202
    assert response.body == b""
    assert compute_rpc.rebooted == [(server_id, reboot_type.upper())]
    server = client.get(SERVERS + "/" + server_id).json["server"]
    assert (server["status"], server["OS-EXT-STS:task_state"]) == (status, task_state)


@pytest.mark.parametrize("body", [
    {"reboot": {}},
    {"reboot": {"type": "WARM"}},
    {"reboot": {"type": "HARD", "force": True}},
    {"reboot": "HARD"},
    {"reboot": {"type": 1}},
], ids=["no-type", "unknown-type", "extra-key", "not-an-object", "type-not-a-string"])
def test_reboot_validates_its_body_like_nova(client, make_server, compute_rpc, body):
    response = client.post(SERVERS + "/%s/action" % make_server(), body)
    assert response.status_int == 400
    assert response.json["badRequest"]["message"].startswith(
        "Invalid input for field/attribute")
    assert compute_rpc.rebooted == []


@pytest.mark.parametrize("vm_state,task_state,attr", [
    ("building", "spawning", "vm_state"),
    ("stopped", None, "vm_state"),
    ("error", None, "vm_state"),
    ("active", "deleting", "task_state"),
], ids=["building", "shutoff", "error", "deleting"])
def test_reboot_of_a_server_that_is_not_active_is_a_conflict(client, make_server, compute_rpc,
                                                             vm_state, task_state, attr):
    server_id = make_server()
    db.instance_update(server_id, {"vm_state": vm_state, "task_state": task_state})
    response = reboot(client, server_id)
    assert response.status_int == 409
    state = vm_state if attr == "vm_state" else task_state
    assert response.json["conflictingRequest"]["message"] == (
        "Cannot 'reboot' instance %s while it is in %s %s" % (server_id, attr, state))
    assert compute_rpc.rebooted == []


def test_a_hard_reboot_may_follow_a_reboot_in_progress_but_a_soft_one_may_not(
        client, make_server, compute_rpc):
    """Nova's rule: a hard reboot rescues a soft one that hangs."""
    server_id = make_server()
    assert reboot(client, server_id, "SOFT").status_int == 202
    assert reboot(client, server_id, "SOFT").status_int == 409
    assert reboot(client, server_id, "HARD").status_int == 202
    assert reboot(client, server_id, "HARD").status_int == 202
    assert [t for _, t in compute_rpc.rebooted] == ["SOFT", "HARD", "HARD"]


def test_a_server_that_is_rebooting_may_be_deleted(client, make_server, compute_rpc):
    server_id = make_server()
    reboot(client, server_id)
    assert client.delete(SERVERS + "/" + server_id).status_int == 204
    assert compute_rpc.terminated == [server_id]


def test_a_reboot_that_cannot_be_sent_leaves_the_server_as_it_was(client, make_server,
                                                                  compute_rpc):
    server_id = make_server()
    compute_rpc.reboot_error = messaging.MessageDeliveryFailure("broker gone")
    response = reboot(client, server_id)
    assert response.status_int == 500
    server = client.get(SERVERS + "/" + server_id).json["server"]
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("ACTIVE", None)


def test_reboot_of_another_tenants_server_is_not_found(client, make_server, compute_rpc):
    server_id = make_server(BOB)
    assert reboot(client, server_id).status_int == 404
    assert reboot(client, server_id, token=ADMIN).status_int == 202
    assert compute_rpc.rebooted == [(server_id, "HARD")]
