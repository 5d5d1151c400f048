"""The API-side rules for servers and consoles (nova_console.compute.api)."""
import time

import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

from nova_console.compute import api as compute_api
from nova_console.compute import manager as compute_manager
from nova_console import connect_info
from nova_console import context
from nova_console.db import api as db
from nova_console.db import models
from nova_console import exception


class FakeComputeRPC:
    def __init__(self):
        self.builds, self.terminations, self.reboots, self.output_requests = [], [], [], []
        self.console_error = None
        self.reboot_error = None

    def reboot_instance(self, ctxt, instance, reboot_type):
        if self.reboot_error:
            raise self.reboot_error
        self.reboots.append((instance["uuid"], reboot_type))

    def get_console_output(self, ctxt, instance, tail_length):
        if self.console_error:
            raise self.console_error
        self.output_requests.append((instance["uuid"], tail_length))
        return "ready\n"

    def build_and_run_instance(self, ctxt, instance):
        self.builds.append(instance)

    def terminate_instance(self, ctxt, instance):
        self.terminations.append(instance)

    def get_vnc_console(self, ctxt, instance, console_type):
        if self.console_error:
            raise self.console_error
        return connect_info.ConnectInfo(
            console_type=console_type, host="10.0.0.5", port=5901, token="T0KEN",
            access_url_base="http://p/vnc_lite.html",
            access_url="http://p/vnc_lite.html?path=%3Ftoken%3DT0KEN")


class FakeConsoleAuthRPC:
    def __init__(self):
        self.authorized, self.revoked = [], []

    def authorize_console(self, ctxt, info):
        self.authorized.append((info.token, info.host, info.port, info.instance_uuid,
                                info.access_url_base))

    def delete_tokens_for_instance(self, ctxt, instance_uuid):
        self.revoked.append(instance_uuid)


@pytest.fixture
def rpc_fakes():
    return FakeComputeRPC(), FakeConsoleAuthRPC()


@pytest.fixture
def api(database, rpc_fakes):
    return compute_api.API(compute_api=rpc_fakes[0], consoleauth_api=rpc_fakes[1])


def _ctxt(project="p1", user="u1", admin=False):
    return context.RequestContext(user_id=user, project_id=project, is_admin=admin,
                                  roles=["admin"] if admin else ["member"], overwrite=False)


def _host_up(host="h1", age=0):
    db.service_heartbeat(host, compute_manager.BINARY, "compute")
    if age:
        with db.get_engine().begin() as conn:
            conn.execute(sa.update(models.Service).where(models.Service.host == host)
                         .values(last_seen_up=time.time() - age))


def _active(api, ctxt, name="vm"):
    instance = api.create(ctxt, name)
    return db.instance_update(instance["uuid"], {"vm_state": "active", "task_state": None})


def test_create_schedules_on_an_up_host_and_casts_the_build(api, rpc_fakes):
    _host_up("h1")
    instance = api.create(_ctxt(), "vm")
    assert (instance["host"], instance["vm_state"], instance["task_state"]) == \
        ("h1", "building", "spawning")
    assert rpc_fakes[0].builds[0]["uuid"] == instance["uuid"]
    assert rpc_fakes[0].builds[0]["host"] == "h1"


def test_create_spreads_servers_over_hosts(api):
    _host_up("h1")
    _host_up("h2")
    hosts = [api.create(_ctxt(), "vm%d" % i)["host"] for i in range(4)]
    assert sorted(hosts) == ["h1", "h1", "h2", "h2"]


def test_create_never_picks_a_down_host(api, conf):
    _host_up("stale", age=conf.service_down_time + 5)
    _host_up("fresh")
    assert {api.create(_ctxt(), "vm%d" % i)["host"] for i in range(3)} == {"fresh"}


def test_create_without_up_hosts_gives_a_server_in_error_with_a_fault(api, rpc_fakes):
    instance = api.create(_ctxt(), "vm")
    assert instance["vm_state"] == "error"
    assert "No valid host" in instance["fault"]
    assert rpc_fakes[0].builds == []


def test_tenants_never_see_each_others_servers(api):
    _host_up()
    mine = api.create(_ctxt("p1"), "mine")
    api.create(_ctxt("p2"), "theirs")
    assert [i["uuid"] for i in api.get_all(_ctxt("p1"))] == [mine["uuid"]]
    with pytest.raises(exception.InstanceNotFound):
        api.get(_ctxt("p2"), mine["uuid"])
    assert api.get(_ctxt("p9", "admin", admin=True), mine["uuid"])["uuid"] == mine["uuid"]
    assert len(api.get_all(_ctxt("p9", admin=True), all_tenants=True)) == 2
    assert api.get_all(_ctxt("p9", admin=True)) == []


def test_get_all_filters_by_name(api):
    _host_up()
    api.create(_ctxt(), "alpha")
    api.create(_ctxt(), "bravo")
    assert [i["name"] for i in api.get_all(_ctxt(), name="bravo")] == ["bravo"]


@pytest.mark.parametrize("bad_id", ["nope", "", "1 OR 1=1", "../etc"])
def test_malformed_server_ids_are_not_found(api, bad_id):
    with pytest.raises(exception.InstanceNotFound):
        api.get(_ctxt(), bad_id)


def test_console_url_is_issued_after_the_token_is_stored(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    console = api.get_console(_ctxt(), instance, "novnc")
    assert console == {"type": "novnc", "url": "http://p/vnc_lite.html?path=%3Ftoken%3DT0KEN"}
    # consoleauth gets the base URL, never the URL with the token in it
    assert rpc_fakes[1].authorized == [("T0KEN", "10.0.0.5", 5901, instance["uuid"],
                                        "http://p/vnc_lite.html")]


def test_console_of_a_building_server_is_a_conflict(api):
    _host_up()
    instance = api.create(_ctxt(), "vm")
    with pytest.raises(exception.InstanceNotReady) as raised:
        api.get_console(_ctxt(), instance, "novnc")
    assert raised.value.code == 409


def test_console_of_a_deleting_server_is_a_conflict(api):
    _host_up()
    instance = db.instance_update(_active(api, _ctxt())["uuid"], {"task_state": "deleting"})
    with pytest.raises(exception.InstanceInvalidState) as raised:
        api.get_console(_ctxt(), instance, "novnc")
    assert raised.value.code == 409


def test_compute_timeout_gives_a_clear_unavailable_error_and_no_token(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    rpc_fakes[0].console_error = messaging.MessagingTimeout("no answer")
    with pytest.raises(exception.ComputeUnavailable) as raised:
        api.get_console(_ctxt(), instance, "novnc")
    assert raised.value.code == 503
    assert rpc_fakes[1].authorized == []


def test_delete_revokes_tokens_then_asks_the_host(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    api.delete(_ctxt(), instance)
    assert rpc_fakes[1].revoked == [instance["uuid"]]
    assert rpc_fakes[0].terminations[0]["uuid"] == instance["uuid"]
    assert db.instance_get_by_uuid(instance["uuid"])["task_state"] == "deleting"


def test_a_second_delete_of_a_deleting_server_does_nothing(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    api.delete(_ctxt(), instance)
    api.delete(_ctxt(), instance)
    assert [i["uuid"] for i in rpc_fakes[0].terminations] == [instance["uuid"]]
    assert [a["action"] for a in db.instance_actions_get(instance["uuid"])] == [
        "delete", "create"]


def test_delete_with_the_host_down_deletes_locally(api, rpc_fakes, conf):
    _host_up()
    instance = _active(api, _ctxt())
    _host_up("h1", age=conf.service_down_time + 5)
    api.delete(_ctxt(), instance)
    assert rpc_fakes[0].terminations == []
    assert rpc_fakes[1].revoked == [instance["uuid"]]
    assert db.instance_get_by_uuid(instance["uuid"]) is None


def test_token_lookup_of_an_unknown_token_is_not_found(api, rpc_fakes):
    rpc_fakes[1].check_token = lambda ctxt, token: None
    with pytest.raises(exception.ConsoleTokenNotFound):
        api.get_console_connect_info(_ctxt(admin=True), "nope")


def test_console_of_a_rebooting_server_is_given_as_nova_does(api, rpc_fakes):
    """The console shows the reboot: Nova refuses consoles only while deleting."""
    _host_up()
    instance = _active(api, _ctxt())
    api.reboot(_ctxt(), instance, "HARD")
    rebooting = db.instance_get_by_uuid(instance["uuid"])
    assert rebooting["task_state"] == "rebooting_hard"
    assert api.get_console(_ctxt(), rebooting, "novnc")["type"] == "novnc"


def test_reboot_marks_the_task_then_casts(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    updated = api.reboot(_ctxt(), instance, "SOFT")
    assert updated["task_state"] == "rebooting"
    assert rpc_fakes[0].reboots == [(instance["uuid"], "SOFT")]


def test_two_soft_reboots_at_once_are_one_reboot_and_one_conflict(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    api.reboot(_ctxt(), instance, "SOFT")
    with pytest.raises(exception.InstanceInvalidState) as raised:
        api.reboot(_ctxt(), instance, "SOFT")  # the caller's copy still says no task
    assert raised.value.code == 409
    assert "task_state rebooting" in raised.value.message
    assert len(rpc_fakes[0].reboots) == 1


def test_reboot_of_a_server_deleted_meanwhile_is_not_found(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    db.instance_destroy(instance["uuid"])
    with pytest.raises(exception.InstanceNotFound):
        api.reboot(_ctxt(), instance, "HARD")
    assert rpc_fakes[0].reboots == []


def test_reboot_that_cannot_be_sent_restores_the_task_state(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    rpc_fakes[0].reboot_error = exception.NotImplementedByDriver(message="too old")
    with pytest.raises(exception.NotImplementedByDriver):
        api.reboot(_ctxt(), instance, "HARD")
    assert db.instance_get_by_uuid(instance["uuid"])["task_state"] is None


def test_delete_interrupts_a_reboot(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    api.reboot(_ctxt(), instance, "HARD")
    api.delete(_ctxt(), db.instance_get_by_uuid(instance["uuid"]))
    assert rpc_fakes[0].terminations[0]["uuid"] == instance["uuid"]


def test_console_output_asks_the_host_for_the_tail(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    assert api.get_console_output(_ctxt(), instance, 10) == "ready\n"
    assert rpc_fakes[0].output_requests == [(instance["uuid"], 10)]


def test_console_output_of_a_building_server_is_a_conflict(api, rpc_fakes):
    _host_up()
    instance = api.create(_ctxt(), "vm")
    with pytest.raises(exception.InstanceNotReady):
        api.get_console_output(_ctxt(), instance, None)
    assert rpc_fakes[0].output_requests == []


def test_console_output_timeout_gives_unavailable(api, rpc_fakes):
    _host_up()
    instance = _active(api, _ctxt())
    rpc_fakes[0].console_error = messaging.MessagingTimeout("no answer")
    with pytest.raises(exception.ComputeUnavailable):
        api.get_console_output(_ctxt(), instance, None)
