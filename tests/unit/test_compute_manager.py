"""nova-console-compute's manager: console details, port validation, lifecycle reports."""
import urllib.parse

import pytest

from nova_console.compute.drivers import base
from nova_console.compute import manager as compute_manager
from nova_console import exception
from tests.unit.fakes import RecordingAPI, StubDriver

INSTANCE = {"uuid": "0d4b4c47-1b5a-4a4e-9e53-6f1a2bd0a6f3", "name": "vm1", "host": "h1",
            "project_id": "p"}


@pytest.fixture
def api():
    return RecordingAPI()


def _manager(api, driver=None):
    return compute_manager.ComputeManager("h1", driver or StubDriver(), api=api)


def test_build_reports_active_and_running(api):
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    assert api.updates == [(INSTANCE["uuid"], {"vm_state": "active", "task_state": None,
                                               "power_state": base.RUNNING})]


def test_failed_build_reports_error_with_a_readable_fault_and_cleans_up(api):
    driver = StubDriver(spawn_error=RuntimeError("qemu died"))
    _manager(api, driver).build_and_run_instance(None, INSTANCE)
    (uuid, values), = api.updates
    assert values["vm_state"] == "error"
    assert "qemu died" in values["fault"]
    assert driver.running == {}


def test_terminate_reports_deleted(api):
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    manager.terminate_instance(None, INSTANCE)
    assert api.updates[-1][1]["vm_state"] == "deleted"
    assert manager.driver.running == {}


def test_heartbeat_names_host_and_binary(api):
    _manager(api).report_heartbeat()
    assert api.heartbeats == [("h1", compute_manager.BINARY)]


def test_vnc_console_gives_endpoint_fresh_token_and_novnc_url(api, conf):
    conf.set_override("novncproxy_base_url", "https://proxy.example:6080/vnc_lite.html",
                      group="vnc")
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    first = manager.get_vnc_console(None, INSTANCE, "novnc")
    second = manager.get_vnc_console(None, INSTANCE, "novnc")
    assert (first["host"], first["port"]) == ("10.0.0.5", 5901)
    assert first["token"] != second["token"]
    assert first["access_url"] == ("https://proxy.example:6080/vnc_lite.html?path=%3Ftoken%3D"
                                   + first["token"])
    assert first["access_url_base"] == "https://proxy.example:6080/vnc_lite.html"


def test_access_url_keeps_a_query_already_in_the_base_url():
    url = compute_manager.novnc_access_url("http://p:6080/vnc.html?autoconnect=true&x=1", "T")
    parts = urllib.parse.urlsplit(url)
    assert urllib.parse.parse_qs(parts.query) == {"autoconnect": ["true"], "x": ["1"],
                                                  "path": ["?token=T"]}


def test_unknown_console_type_is_refused(api):
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    with pytest.raises(exception.ConsoleTypeInvalid):
        manager.get_vnc_console(None, INSTANCE, "spice-html5")


def test_vnc_disabled_gives_console_unavailable(api, conf):
    conf.set_override("enabled", False, group="vnc")
    with pytest.raises(exception.ConsoleTypeUnavailable):
        _manager(api).get_vnc_console(None, INSTANCE, "novnc")


def test_console_of_an_unknown_instance_is_not_found(api):
    with pytest.raises(exception.InstanceNotFound):
        _manager(api).get_vnc_console(None, INSTANCE, "novnc")


def test_validate_console_port(api):
    manager = _manager(api)
    assert manager.validate_console_port(None, INSTANCE, 5901, "novnc") is False
    manager.build_and_run_instance(None, INSTANCE)
    assert manager.validate_console_port(None, INSTANCE, 5901, "novnc") is True
    assert manager.validate_console_port(None, INSTANCE, "5901", "novnc") is True
    assert manager.validate_console_port(None, INSTANCE, 5902, "novnc") is False
    assert manager.validate_console_port(None, INSTANCE, 5901, "serial") is False
    manager.terminate_instance(None, INSTANCE)
    assert manager.validate_console_port(None, INSTANCE, 5901, "novnc") is False


def test_driver_without_vnc_gives_not_implemented(api):
    class NoConsoles(StubDriver):
        get_vnc_console = base.ComputeDriver.get_vnc_console

    manager = _manager(api, NoConsoles())
    manager.build_and_run_instance(None, INSTANCE)
    with pytest.raises(exception.NotImplementedByDriver) as raised:
        manager.get_vnc_console(None, INSTANCE, "novnc")
    assert raised.value.code == 501
