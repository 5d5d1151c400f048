"""The RPC contracts over oslo.messaging's fake transport: real clients, real servers."""
import logging
import threading
import time

import oslo_messaging as messaging
import pytest

from nova_console.api import manager as api_manager
from nova_console.api import rpcapi as api_rpcapi
from nova_console import compute
from nova_console.compute import manager as compute_manager
from nova_console.compute import rpcapi as compute_rpcapi
from nova_console import consoleauth
from nova_console.consoleauth import manager as consoleauth_manager
from nova_console.consoleauth import rpcapi as consoleauth_rpcapi
from nova_console import context
from nova_console.db import api as db
from nova_console import exception
from nova_console import service
from tests.unit.fakes import RecordingAPI, StubDriver

HOST = "compute-1"


class ContextRecorder:
    """Wraps the compute manager and keeps the context each call arrived with."""

    def __init__(self, manager):
        self.manager = manager
        self.contexts = []

    def __getattr__(self, name):
        method = getattr(self.manager, name)

        def recorded(ctxt, **kwargs):
            self.contexts.append(ctxt)
            return method(ctxt, **kwargs)
        return recorded


@pytest.fixture
def services(fake_transport, database):
    driver = StubDriver()
    manager = compute_manager.ComputeManager(HOST, driver)
    recorder = ContextRecorder(manager)
    recorder.target = manager.target
    running = [
        service.RPCService(compute.TOPIC, HOST, [recorder]),
        service.RPCService(consoleauth.TOPIC, "ca-1", [consoleauth_manager.ConsoleAuthManager()]),
        service.RPCService("console-api", "api-1", [api_manager.APIManager()]),
    ]
    for rpc_service in running:
        rpc_service.start()
    yield recorder, driver
    for rpc_service in running:
        rpc_service.stop()


def _instance():
    return db.instance_create({"uuid": "3b0f7a6e-6b0e-4f43-9d51-0b3f9a1e2c11", "name": "vm",
                               "project_id": "p", "user_id": "u", "host": HOST,
                               "vm_state": "building", "task_state": "spawning",
                               "power_state": 0})


def test_context_travels_with_every_call(services):
    recorder, driver = services
    driver.running["3b0f7a6e-6b0e-4f43-9d51-0b3f9a1e2c11"] = 5901
    ctxt = context.RequestContext(user_id="u", project_id="p", roles=["member"])
    compute_rpcapi.ComputeAPI().get_vnc_console(ctxt, _instance(), "novnc")
    arrived = recorder.contexts[-1]
    assert isinstance(arrived, context.RequestContext)
    assert (arrived.request_id, arrived.user_id, arrived.project_id) == (ctxt.request_id, "u", "p")
    assert arrived.roles == ["member"]


def test_remote_exceptions_keep_their_class_and_status(services):
    ctxt = context.RequestContext(user_id="u", project_id="p")
    with pytest.raises(exception.InstanceNotFound) as raised:
        compute_rpcapi.ComputeAPI().get_vnc_console(ctxt, _instance(), "novnc")
    assert raised.value.code == 404
    assert "3b0f7a6e-6b0e-4f43-9d51-0b3f9a1e2c11" in raised.value.message


def test_an_expected_error_of_a_host_logs_no_traceback_there(services, caplog):
    """An unknown instance is an answer (404), not a failure of the compute host."""
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(exception.InstanceNotFound):
            compute_rpcapi.ComputeAPI().get_vnc_console(context.get_admin_context(),
                                                        _instance(), "novnc")
    assert "Expected exception during message handling" in caplog.text
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_console_token_round_trip_over_rpc(services):
    recorder, driver = services
    instance = _instance()
    driver.running[instance["uuid"]] = 5901
    ctxt = context.get_admin_context()
    info = compute_rpcapi.ComputeAPI().get_vnc_console(ctxt, instance, "novnc")
    consoleauth_api = consoleauth_rpcapi.ConsoleAuthAPI()
    assert (info.instance_uuid, info.console_type) == (instance["uuid"], "novnc")
    consoleauth_api.authorize_console(ctxt, info)
    checked = consoleauth_api.check_token(ctxt, info.token)
    assert (checked.host, checked.port, checked.instance_uuid) == (
        "10.0.0.5", 5901, instance["uuid"])
    assert checked.token is None and checked.access_url is None  # never given out
    del driver.running[instance["uuid"]]
    assert consoleauth_api.check_token(ctxt, info.token) is None


class CountingConsoleAuth(consoleauth_manager.ConsoleAuthManager):
    """consoleauth that counts the messages each method received."""

    def __init__(self):
        super().__init__()
        self.messages = {"check_token": 0, "check_tokens": 0}

    def check_token(self, ctxt, token):
        self.messages["check_token"] += 1
        # Not super().check_token(): it goes through check_tokens, which counts.
        return consoleauth_manager.ConsoleAuthManager.check_tokens(self, ctxt, [token])[0]

    def check_tokens(self, ctxt, tokens):
        self.messages["check_tokens"] += 1
        return super().check_tokens(ctxt, tokens)


@pytest.mark.parametrize("cap, method", [(None, "check_tokens"), ("1.0", "check_token")])
def test_concurrent_checks_over_rpc_each_get_their_own_answer(fake_transport, database, conf,
                                                              cap, method):
    """A 1.1 client batches concurrent checks into check_tokens; capped at 1.0 (an
    old consoleauth during an upgrade) it sends one check_token each."""
    conf.set_override("consoleauth", cap, group="upgrade_levels")
    driver = StubDriver()
    consoleauth_service = CountingConsoleAuth()
    running = [service.RPCService(compute.TOPIC, HOST, [compute_manager.ComputeManager(
                   HOST, driver, api=RecordingAPI())]),
               service.RPCService(consoleauth.TOPIC, "ca-1", [consoleauth_service])]
    for rpc_service in running:
        rpc_service.start()
    try:
        instance = _instance()
        driver.running[instance["uuid"]] = 5901
        ctxt = context.get_admin_context()
        tokens = ["tok-%02d-%s" % (i, "k" * 24) for i in range(12)]
        for token in tokens:
            consoleauth_service.authorize_console(ctxt, token, "novnc", "10.0.0.5", 5901,
                                                  None, instance["uuid"])
        tokens.append("unknown-token")
        client = consoleauth_rpcapi.ConsoleAuthAPI()
        results = {}
        threads = [threading.Thread(target=lambda t=t: results.__setitem__(
            t, client.check_token(context.get_admin_context(), t))) for t in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for rpc_service in running:
            rpc_service.stop()
    assert [results[t] and results[t].port for t in tokens] == [5901] * 12 + [None]
    assert consoleauth_service.messages[method] > 0
    other = "check_token" if method == "check_tokens" else "check_tokens"
    assert consoleauth_service.messages[other] == 0
    if method == "check_tokens":  # 13 concurrent checks, at most 4 messages out at once
        assert consoleauth_service.messages[method] < len(tokens)


def test_compute_reports_reach_the_database(services):
    instance = _instance()
    reports = api_rpcapi.APIReportsAPI()
    reports.service_heartbeat(None, host=HOST, binary=compute_manager.BINARY)
    reports.instance_update(None, instance["uuid"], {"vm_state": "active", "task_state": None,
                                                     "host": "evil", "project_id": "evil"})
    updated = db.instance_get_by_uuid(instance["uuid"])
    assert updated["vm_state"] == "active"
    assert (updated["host"], updated["project_id"]) == (HOST, "p")  # not reportable
    # The heartbeat is a cast: it was sent before the instance_update call returned,
    # and the fake transport delivers in order, but give the worker a moment.
    deadline = time.time() + 5
    while not db.service_get_all() and time.time() < deadline:
        time.sleep(0.05)
    assert [s["host"] for s in db.service_get_all()] == [HOST]


def _wait_until(predicate, timeout=5):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def test_reboot_is_cast_and_the_host_reports_the_end_of_the_task(services):
    recorder, driver = services
    instance = _instance()
    driver.running[instance["uuid"]] = 5901
    db.instance_update(instance["uuid"], {"vm_state": "active", "task_state": "rebooting"})
    compute_rpcapi.ComputeAPI().reboot_instance(context.get_admin_context(), instance, "SOFT")
    _wait_until(lambda: db.instance_get_by_uuid(instance["uuid"])["task_state"] is None)
    assert driver.reboots == [instance["uuid"]]
    assert db.instance_get_by_uuid(instance["uuid"])["vm_state"] == "active"


def test_console_output_over_rpc(services):
    recorder, driver = services
    instance = _instance()
    driver.running[instance["uuid"]] = 5901
    driver.output[instance["uuid"]] = "one\r\ntwo\r\nthree\r\n"
    output = compute_rpcapi.ComputeAPI().get_console_output(
        context.get_admin_context(), instance, 2)
    assert output == "two\nthree\n"


def test_a_late_report_is_refused_and_the_host_is_told(services):
    instance = _instance()
    reports = api_rpcapi.APIReportsAPI()
    db.instance_update(instance["uuid"], {"task_state": "deleting"})
    stored = reports.instance_update(None, instance["uuid"],
                                     {"vm_state": "active", "task_state": None},
                                     expected_task_state=["spawning"])
    assert stored is False
    assert db.instance_get_by_uuid(instance["uuid"])["vm_state"] == "building"
    assert reports.instance_update(None, instance["uuid"], {"power_state": 1},
                                   expected_task_state=["deleting"]) is True


def test_the_api_tells_a_host_its_instances_and_which_of_its_own_were_deleted(services):
    instance = _instance()
    gone = db.instance_create({"uuid": "7d1e0f4c-2b7a-4d3e-8c55-0f6e3c1a9b22", "name": "gone",
                               "project_id": "p", "user_id": "u", "host": HOST,
                               "vm_state": "active", "power_state": 1})
    db.instance_destroy(gone["uuid"])
    views = api_rpcapi.APIReportsAPI().get_instances_on_host(
        None, HOST, uuids=[gone["uuid"], "00000000-0000-4000-8000-000000000000"])
    by_uuid = {view["uuid"]: view for view in views}
    assert set(by_uuid) == {instance["uuid"], gone["uuid"]}
    assert by_uuid[instance["uuid"]] == {
        "uuid": instance["uuid"], "name": "vm", "host": HOST, "project_id": "p",
        "vm_state": "building", "task_state": "spawning", "power_state": 0}
    assert by_uuid[gone["uuid"]]["vm_state"] == "deleted"


def test_start_up_sync_over_rpc_errors_an_instance_that_vanished(services):
    recorder, driver = services
    instance = _instance()
    db.instance_update(instance["uuid"], {"vm_state": "active", "task_state": None,
                                          "power_state": 1})
    recorder.manager.init_host()
    stored = db.instance_get_by_uuid(instance["uuid"])
    assert (stored["vm_state"], stored["power_state"]) == ("error", 0)
    assert "vanished from the hypervisor" in stored["fault"]


class ComputeManagerV10:
    """A compute host not yet upgraded: RPC 1.0 methods only."""

    target = messaging.Target(version="1.0")

    def __init__(self, manager):
        self.get_vnc_console = manager.get_vnc_console


def test_a_client_capped_at_1_0_talks_to_a_1_0_host_and_refuses_new_calls(
        fake_transport, database, conf):
    conf.set_override("compute", "1.0", group="upgrade_levels")
    driver = StubDriver()
    old_host = service.RPCService(compute.TOPIC, HOST, [ComputeManagerV10(
        compute_manager.ComputeManager(HOST, driver, api=RecordingAPI()))])
    old_host.start()
    try:
        instance = _instance()
        driver.running[instance["uuid"]] = 5901
        client = compute_rpcapi.ComputeAPI()
        ctxt = context.get_admin_context()
        assert client.get_vnc_console(ctxt, instance, "novnc").port == 5901
        for call in (lambda: client.reboot_instance(ctxt, instance, "HARD"),
                     lambda: client.get_console_output(ctxt, instance, 5),
                     lambda: client.get_spice_console(ctxt, instance, "spice-html5"),
                     lambda: client.get_serial_console(ctxt, instance, "serial"),
                     lambda: client.get_mks_console(ctxt, instance, "webmks")):
            with pytest.raises(exception.NotImplementedByDriver) as raised:
                call()
            assert "[upgrade_levels] compute caps it at 1.0" in raised.value.message
    finally:
        old_host.stop()


def test_a_host_capped_at_api_1_0_reports_without_expectations_and_skips_the_sync(
        services, conf):
    conf.set_override("api", "1.0", group="upgrade_levels")
    instance = _instance()
    reports = api_rpcapi.APIReportsAPI()
    assert reports.get_instances_on_host(None, HOST) is None
    db.instance_update(instance["uuid"], {"task_state": "deleting"})
    reports.instance_update(None, instance["uuid"], {"power_state": 4},
                            expected_task_state=["spawning"])
    assert db.instance_get_by_uuid(instance["uuid"])["power_state"] == 4  # as 1.0 did
