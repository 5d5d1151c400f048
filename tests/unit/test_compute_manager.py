"""nova-console-compute's manager: console details, port validation, lifecycle reports."""
import urllib.parse

import pytest

from nova_console.compute.drivers import base
from nova_console.compute import manager as compute_manager
from nova_console import console_types
from nova_console import exception
from nova_console.compute import power_state
from nova_console.compute import task_states
from tests.unit.fakes import RecordingAPI, StubDriver, raises_expected

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
                                               "power_state": power_state.RUNNING})]


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


class HeartbeatRecorder:
    """The API client's service_heartbeat (RPC 1.2 arguments)."""

    def __init__(self):
        self.heartbeats = []

    def service_heartbeat(self, ctxt, host, binary, topic=None, hypervisor_type=None):
        self.heartbeats.append((host, binary, topic, hypervisor_type))


def test_heartbeat_names_host_binary_topic_and_the_configured_driver(conf):
    conf.set_override("compute_driver", "qemu")
    api = HeartbeatRecorder()
    _manager(api).report_heartbeat()
    assert api.heartbeats == [("h1", compute_manager.BINARY, "compute", "qemu")]


def test_heartbeat_prefers_the_hypervisor_type_a_driver_declares():
    driver = StubDriver()
    driver.hypervisor_type = "QEMU"
    api = HeartbeatRecorder()
    _manager(api, driver).report_heartbeat()
    assert api.heartbeats[0][3] == "QEMU"


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


def test_xvpvnc_console_gets_the_xvp_proxy_url_with_a_token_query(api, conf):
    conf.set_override("xvpvncproxy_base_url", "https://xvp.example:6081/console", group="vnc")
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    info = manager.get_vnc_console(None, INSTANCE, "xvpvnc")
    assert (info["console_type"], info["port"]) == ("xvpvnc", 5901)
    assert info["access_url"] == "https://xvp.example:6081/console?token=" + info["token"]
    assert info["access_url_base"] == "https://xvp.example:6081/console"
    assert manager.validate_console_port(None, INSTANCE, 5901, "xvpvnc") is True


@pytest.mark.parametrize("method,console_type,group,option,base,port,tls_port", [
    ("get_spice_console", "spice-html5", "spice", "html5proxy_base_url",
     "https://p:6082/spice_auto.html", 6001, 6101),
    ("get_spice_console", "spice-direct", "spice", "spice_direct_proxy_base_url",
     "https://spice.example:13002/nova", 6001, 6101),
    ("get_serial_console", "serial", "serial_console", "base_url", "wss://p:6083/", 10901,
     None),
])
def test_spice_and_serial_consoles_carry_their_endpoint_and_token_query_url(
        api, conf, method, console_type, group, option, base, port, tls_port):
    conf.set_override("enabled", True, group=group)
    conf.set_override(option, base, group=group)
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    info = getattr(manager, method)(None, INSTANCE, console_type)
    assert (info["console_type"], info["port"], info["tls_port"]) == (console_type, port,
                                                                      tls_port)
    assert info["access_url"] == base + "?token=" + info["token"]
    assert manager.validate_console_port(None, INSTANCE, port, console_type) is True
    assert manager.validate_console_port(None, INSTANCE, 5901, console_type) is False


@pytest.mark.parametrize("method,console_type,group", [
    ("get_spice_console", "spice-html5", "spice"),
    ("get_serial_console", "serial", "serial_console"),
    ("get_mks_console", "webmks", "mks"),
])
def test_a_console_type_turned_off_says_which_option(api, conf, method, console_type, group):
    conf.set_override("enabled", False, group=group)
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    with raises_expected(exception.ConsoleTypeUnavailable) as raised:
        getattr(manager, method)(None, INSTANCE, console_type)
    assert raised.value.message == (
        "Unavailable console type %s: it is turned off on compute host h1 ([%s] enabled)."
        % (console_type, group))


def test_each_console_method_takes_only_its_protocols_types(api, conf):
    conf.set_override("enabled", True, group="spice")
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    with raises_expected(exception.ConsoleTypeInvalid):
        manager.get_spice_console(None, INSTANCE, "novnc")
    with raises_expected(exception.ConsoleTypeInvalid):
        manager.get_serial_console(None, INSTANCE, "spice-html5")


def test_access_url_keeps_a_query_already_in_the_base_url():
    url = console_types.novnc_path_url("http://p:6080/vnc.html?autoconnect=true&x=1", "T")
    parts = urllib.parse.urlsplit(url)
    assert urllib.parse.parse_qs(parts.query) == {"autoconnect": ["true"], "x": ["1"],
                                                  "path": ["?token=T"]}


def test_unknown_console_type_is_refused(api):
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    with raises_expected(exception.ConsoleTypeInvalid):
        manager.get_vnc_console(None, INSTANCE, "spice-html5")


def test_vnc_disabled_gives_console_unavailable(api, conf):
    conf.set_override("enabled", False, group="vnc")
    with raises_expected(exception.ConsoleTypeUnavailable):
        _manager(api).get_vnc_console(None, INSTANCE, "novnc")


def test_console_of_an_unknown_instance_is_not_found(api):
    with raises_expected(exception.InstanceNotFound):
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


def test_a_console_the_driver_lacks_is_an_unavailable_type_that_says_why(api):
    class NoConsoles(StubDriver):
        get_vnc_console = base.ComputeDriver.get_vnc_console

    manager = _manager(api, NoConsoles())
    manager.build_and_run_instance(None, INSTANCE)
    with raises_expected(exception.ConsoleTypeUnavailable) as raised:
        manager.get_vnc_console(None, INSTANCE, "novnc")
    assert raised.value.code == 400
    assert raised.value.message == ("Unavailable console type novnc: Driver NoConsoles does "
                                    "not support VNC consoles.")


# --- builds and deletes that race ------------------------------------------------------------

def test_build_reports_the_end_of_the_spawning_task(api):
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    _manager(api).build_and_run_instance(None, INSTANCE)
    assert api.expectations == [("spawning",)]
    assert api.instances[INSTANCE["uuid"]]["vm_state"] == "active"


def test_a_server_deleted_during_its_build_is_destroyed_once_built(api):
    """The report comes too late (the API says so): what was built is not left running."""
    api.add(INSTANCE["uuid"], vm_state="building", task_state="deleting")
    driver = StubDriver()
    _manager(api, driver).build_and_run_instance(None, INSTANCE)
    assert driver.spawns == [INSTANCE["uuid"]]
    assert driver.running == {}


def test_a_repeated_build_request_does_not_spawn_twice(api):
    driver = StubDriver()
    manager = _manager(api, driver)
    manager.build_and_run_instance(None, INSTANCE)
    manager.build_and_run_instance(None, INSTANCE)
    assert driver.spawns == [INSTANCE["uuid"]]
    assert [values["vm_state"] for _, values in api.updates] == ["active", "active"]


def test_a_failed_build_with_a_driver_error_reports_its_message(api):
    error = exception.SocketPortRangeExhaustedException(host="127.0.0.1",
                                                        port_range="5900:5900")
    driver = StubDriver(spawn_error=error)
    _manager(api, driver).build_and_run_instance(None, INSTANCE)
    (_uuid, values), = api.updates
    assert values == {"vm_state": "error", "task_state": None, "power_state": power_state.NOSTATE,
                      "fault": error.message}
    assert "Not able to acquire a free port" in values["fault"]


def test_terminate_of_an_instance_that_vanished_is_fine(api):
    manager = _manager(api)
    manager.terminate_instance(None, INSTANCE)  # the driver never had it
    assert api.updates == [(INSTANCE["uuid"], {"vm_state": "deleted", "task_state": None,
                                               "power_state": power_state.NOSTATE})]


def test_terminate_that_fails_reports_error_with_the_reason(api):
    class Stuck(StubDriver):
        def destroy(self, instance):
            raise exception.NovaConsoleException("QEMU process 42 could not be stopped.")

    _manager(api, Stuck()).terminate_instance(None, INSTANCE)
    (_uuid, values), = api.updates
    assert values["vm_state"] == "error"
    assert values["fault"] == "QEMU process 42 could not be stopped."
    assert api.expectations == [("deleting",)]


def test_operations_on_one_instance_never_overlap():
    locks = compute_manager.InstanceLocks()
    with locks.hold("a"):
        with locks.hold("a", blocking=False) as free:
            assert free is False
        with locks.hold("b", blocking=False) as free:
            assert free is True
    with locks.hold("a", blocking=False) as free:
        assert free is True
    assert locks._locks == {}


# --- reboot --------------------------------------------------------------------------------

def _rebooting(api, manager, task_state="rebooting_hard"):
    manager.build_and_run_instance(None, INSTANCE)
    api.add(INSTANCE["uuid"], task_state=task_state)
    api.updates.clear()
    api.expectations.clear()


def test_reboot_resets_the_guest_and_ends_the_task(api):
    manager = _manager(api)
    _rebooting(api, manager)
    manager.reboot_instance(None, INSTANCE, "HARD")
    assert manager.driver.reboots == [INSTANCE["uuid"]]
    assert api.updates == [(INSTANCE["uuid"], {"vm_state": "active", "task_state": None,
                                               "power_state": power_state.RUNNING})]
    assert api.expectations == [task_states.REBOOT_TASK_STATES]


def test_reboot_of_a_stopped_guest_reports_it_stopped(api):
    manager = _manager(api)
    _rebooting(api, manager)
    manager.driver.power[INSTANCE["uuid"]] = power_state.SHUTDOWN
    manager.reboot_instance(None, INSTANCE, "SOFT")
    assert api.instances[INSTANCE["uuid"]]["vm_state"] == "stopped"
    assert api.instances[INSTANCE["uuid"]]["power_state"] == power_state.SHUTDOWN
    assert api.instances[INSTANCE["uuid"]]["task_state"] is None


def test_reboot_of_a_vanished_instance_reports_error_with_a_fault(api):
    manager = _manager(api)
    _rebooting(api, manager)
    manager.driver.running.clear()
    manager.reboot_instance(None, INSTANCE, "HARD")
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["task_state"]) == ("error", None)
    assert "vanished from the hypervisor" in stored["fault"]


def test_reboot_a_driver_cannot_do_leaves_the_server_active(api):
    manager = _manager(api)
    _rebooting(api, manager)
    manager.driver.reboot_error = exception.NotImplementedByDriver(driver="x",
                                                                   feature="rebooting")
    manager.reboot_instance(None, INSTANCE, "HARD")
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["task_state"]) == ("active", None)


def test_reboot_that_fails_reports_error_with_the_reason(api):
    manager = _manager(api)
    _rebooting(api, manager)
    manager.driver.reboot_error = exception.NovaConsoleException("Could not reset: QMP down")
    manager.reboot_instance(None, INSTANCE, "HARD")
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["fault"]) == ("error", "Could not reset: QMP down")


# --- consoles of instances that do not run -------------------------------------------------

def test_validate_console_port_is_false_for_a_guest_that_stopped(api):
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    manager.driver.power[INSTANCE["uuid"]] = power_state.SHUTDOWN
    assert manager.validate_console_port(None, INSTANCE, 5901, "novnc") is False


# --- console output ------------------------------------------------------------------------

def test_console_output_is_the_tail_without_control_characters(api):
    manager = _manager(api)
    manager.build_and_run_instance(None, INSTANCE)
    manager.driver.output[INSTANCE["uuid"]] = (
        "SeaBIOS\r\n\x1b[2Jboot\x07ing\r\nnova_console guest vm1 ready\r\n")
    assert manager.get_console_output(None, INSTANCE, 1) == "nova_console guest vm1 ready\n"
    assert manager.get_console_output(None, INSTANCE, 2) == (
        "[2Jbooting\nnova_console guest vm1 ready\n")
    assert manager.get_console_output(None, INSTANCE, None) == (
        "SeaBIOS\n[2Jbooting\nnova_console guest vm1 ready\n")
    assert manager.get_console_output(None, INSTANCE, 0) == ""


@pytest.mark.parametrize("text,count,tail", [
    ("a\nb\nc\n", 2, "b\nc\n"),
    ("a\nb\nc", 2, "b\nc"),
    ("a\nb\n", 5, "a\nb\n"),
    ("a\n\n\nb\n", 2, "\nb\n"),
    ("", 3, ""),
    ("no newline", 1, "no newline"),
    ("a\nb\n", -1, "a\nb\n"),
])
def test_tail_lines_counts_lines_as_a_reader_does(text, count, tail):
    assert compute_manager.tail_lines(text, count) == tail


def test_control_characters_are_stripped_but_tabs_newlines_and_text_stay():
    text = "a\tb\nc\r\x00\x08\x0b\x0c\x1b[0m\x7f\x85é€😀"
    assert compute_manager.strip_control_characters(text) == "a\tb\nc[0mé€😀"


def test_console_output_of_an_unknown_instance_is_not_found(api):
    with raises_expected(exception.InstanceNotFound):
        _manager(api).get_console_output(None, INSTANCE, 10)


def test_console_output_of_a_driver_without_it_is_not_implemented(api):
    class NoOutput(StubDriver):
        get_console_output = base.ComputeDriver.get_console_output

    manager = _manager(api, NoOutput())
    manager.build_and_run_instance(None, INSTANCE)
    with raises_expected(exception.NotImplementedByDriver) as raised:
        manager.get_console_output(None, INSTANCE, 10)
    assert raised.value.code == 501


# --- state sync ----------------------------------------------------------------------------

OTHER = {"uuid": "5a1d1b9e-8f6c-4a40-9a34-2cb7b5cb4a11", "name": "vm2", "host": "h1",
         "project_id": "p"}


def _restarted(api, driver=None):
    """A manager whose driver re-adopted what `driver` has, and which synced at start."""
    manager = _manager(api, driver)
    manager.init_host()
    return manager


def test_start_up_reports_running_instances_as_they_are(api):
    driver = StubDriver()
    driver.running[INSTANCE["uuid"]] = 5901
    api.add(INSTANCE["uuid"])
    manager = _restarted(api, driver)
    assert driver.init_hosts == ["h1"]
    assert manager.startup_synced.is_set()
    assert api.updates == []  # nothing changed, nothing reported
    assert api.sync_requests == [("h1", [INSTANCE["uuid"]])]


def test_start_up_errors_instances_that_vanished_from_the_hypervisor(api):
    api.add(INSTANCE["uuid"])
    _restarted(api)
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["power_state"]) == ("error", power_state.NOSTATE)
    assert stored["fault"] == ("Instance vanished from the hypervisor: compute host h1 no "
                               "longer has it.")
    assert api.expectations == [(None,)]


def test_start_up_errors_builds_the_restart_interrupted_and_destroys_what_they_left(api):
    driver = StubDriver()
    driver.running[OTHER["uuid"]] = 5902  # QEMU started, but the report never went out
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    api.add(OTHER["uuid"], name="vm2", vm_state="building", task_state="spawning",
            power_state=0)
    _restarted(api, driver)
    for uuid in (INSTANCE["uuid"], OTHER["uuid"]):
        stored = api.instances[uuid]
        assert (stored["vm_state"], stored["task_state"]) == ("error", None)
        assert "restarted before the build finished" in stored["fault"]
    assert driver.running == {}


def test_a_build_request_queued_across_a_restart_destroys_what_it_built(api):
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    manager = _restarted(api)
    manager.build_and_run_instance(None, INSTANCE)  # delivered after the restart
    assert manager.driver.spawns == [INSTANCE["uuid"]]
    assert manager.driver.running == {}
    assert api.instances[INSTANCE["uuid"]]["vm_state"] == "error"


def test_start_up_finishes_deletes_the_restart_interrupted(api):
    driver = StubDriver()
    driver.running[INSTANCE["uuid"]] = 5901
    api.add(INSTANCE["uuid"], task_state="deleting")
    _restarted(api, driver)
    assert driver.running == {}
    assert INSTANCE["uuid"] in api.deleted


def test_start_up_clears_reboots_the_restart_interrupted(api):
    driver = StubDriver()
    driver.running[INSTANCE["uuid"]] = 5901
    api.add(INSTANCE["uuid"], task_state="rebooting_hard")
    _restarted(api, driver)
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["task_state"]) == ("active", None)


def test_start_up_destroys_instances_deleted_while_the_host_was_down(api):
    driver = StubDriver()
    driver.running[INSTANCE["uuid"]] = 5901
    api.deleted.add(INSTANCE["uuid"])  # deleted locally by the API: the host was down
    _restarted(api, driver)
    assert driver.running == {}


def test_start_up_leaves_instances_the_api_does_not_know_alone(api, caplog):
    driver = StubDriver()
    driver.running[INSTANCE["uuid"]] = 5901
    _restarted(api, driver)
    assert driver.running == {INSTANCE["uuid"]: 5901}
    assert "the API does not know it: left alone" in caplog.text


def test_start_up_leaves_instances_the_api_has_on_another_host_alone(api):
    driver = StubDriver()
    driver.running[INSTANCE["uuid"]] = 5901
    api.add(INSTANCE["uuid"], host="h2")
    _restarted(api, driver)
    assert driver.running == {INSTANCE["uuid"]: 5901}
    assert api.updates == []


def test_start_up_waits_for_the_api_then_leaves_the_sync_to_the_periodic_task(
        api, monkeypatch):
    monkeypatch.setattr(compute_manager, "STARTUP_SYNC_WAIT", 0)
    api.reachable = False
    api.add(INSTANCE["uuid"])
    manager = _restarted(api)
    assert not manager.startup_synced.is_set()
    api.reachable = True
    manager.sync_instances()
    assert manager.startup_synced.is_set()
    assert api.instances[INSTANCE["uuid"]]["vm_state"] == "error"


def test_periodic_sync_reports_a_guest_killed_behind_the_drivers_back_as_stopped(api):
    manager = _manager(api, StubDriver())
    manager.sync_interval = 0
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    manager.init_host()
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    manager.build_and_run_instance(None, INSTANCE)
    manager.driver.power[INSTANCE["uuid"]] = power_state.SHUTDOWN
    manager.sync_instances()
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["power_state"]) == ("stopped", power_state.SHUTDOWN)


def test_periodic_sync_reports_an_instance_removed_behind_the_drivers_back(api):
    manager = _manager(api)
    manager.sync_interval = 0
    manager.init_host()
    api.add(INSTANCE["uuid"])
    manager.sync_instances()
    assert api.instances[INSTANCE["uuid"]]["vm_state"] == "error"


def test_periodic_sync_reports_a_build_whose_report_was_lost(api):
    manager = _manager(api)
    manager.sync_interval = 0
    manager.init_host()
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    manager.driver.running[INSTANCE["uuid"]] = 5901
    manager.sync_instances()
    stored = api.instances[INSTANCE["uuid"]]
    assert (stored["vm_state"], stored["task_state"]) == ("active", None)


def test_periodic_sync_leaves_builds_that_have_not_arrived_and_busy_instances_alone(api):
    manager = _manager(api)
    manager.sync_interval = 0
    manager.init_host()
    api.add(INSTANCE["uuid"], vm_state="building", task_state="spawning", power_state=0)
    api.add(OTHER["uuid"], name="vm2")  # vanished, but an operation on it runs
    with manager._locks.hold(OTHER["uuid"]):
        manager.sync_instances()
    assert api.updates == []


def test_periodic_sync_waits_for_its_interval(api):
    manager = _manager(api)
    manager.init_host()
    api.add(INSTANCE["uuid"])
    manager.sync_instances()  # the default interval has not passed since start-up
    assert api.updates == []
    assert len(api.sync_requests) == 1


def test_a_negative_interval_disables_the_periodic_sync_but_not_the_start_up_one(api):
    manager = _manager(api)
    manager.sync_interval = -1
    manager.init_host()
    manager.sync_instances()
    assert len(api.sync_requests) == 1


def test_an_api_too_old_to_sync_is_not_asked_again(api):
    api.get_instances_on_host = lambda *args, **kwargs: None
    manager = _restarted(api)
    assert manager.startup_synced.is_set()
    assert manager.sync_interval == -1


def test_a_driver_that_cannot_tell_the_power_state_does_not_stop_the_report(api):
    class Blind(StubDriver):
        def get_power_state(self, instance):
            raise exception.NovaConsoleException("libvirt is down")

    _manager(api, Blind()).build_and_run_instance(None, INSTANCE)
    assert api.updates == [(INSTANCE["uuid"], {"vm_state": "active", "task_state": None,
                                               "power_state": power_state.NOSTATE})]
