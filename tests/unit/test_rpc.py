"""The RPC contracts over oslo.messaging's fake transport: real clients, real servers."""
import time

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
from tests.unit.fakes import StubDriver

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


def test_console_token_round_trip_over_rpc(services):
    recorder, driver = services
    instance = _instance()
    driver.running[instance["uuid"]] = 5901
    ctxt = context.get_admin_context()
    info = compute_rpcapi.ComputeAPI().get_vnc_console(ctxt, instance, "novnc")
    consoleauth_api = consoleauth_rpcapi.ConsoleAuthAPI()
    consoleauth_api.authorize_console(ctxt, info["token"], "novnc", info["host"], info["port"],
                                      None, instance["uuid"], access_url=info["access_url_base"])
    checked = consoleauth_api.check_token(ctxt, info["token"])
    assert (checked["host"], checked["port"]) == ("10.0.0.5", 5901)
    del driver.running[instance["uuid"]]
    assert consoleauth_api.check_token(ctxt, info["token"]) is None


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
