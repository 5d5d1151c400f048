"""The static driver: consoles of machines nova_console does not run."""
import socket

import pytest

from nova_console.compute.drivers import base
from nova_console.compute.drivers import static
from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute import power_state

CONF = nc_conf.CONF


@pytest.fixture
def console_server():
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def driver(tmp_path, console_server):
    CONF.set_override("state_path", str(tmp_path))
    CONF.set_override("endpoints", {"bmc-7": "127.0.0.1:%d" % console_server,
                                    "v6": "[::1]:5901"}, group="static_consoles")
    CONF.set_override("serial_endpoints", {"bmc-7": "10.9.0.7:7001"}, group="static_consoles")
    CONF.set_override("reachability_timeout", 1.0, group="static_consoles")
    driver = static.StaticConsoleDriver()
    driver.init_host("host-1")
    yield driver
    CONF.clear_override("state_path")
    CONF.clear_override("endpoints", group="static_consoles")
    CONF.clear_override("reachability_timeout", group="static_consoles")
    CONF.clear_override("serial_endpoints", group="static_consoles")


def test_a_machine_with_a_serial_endpoint_has_a_serial_console(driver):
    driver.spawn({"uuid": "u-1", "name": "bmc-7"})
    assert driver.get_serial_console({"uuid": "u-1"}) == base.ConsoleEndpoint(
        host="10.9.0.7", port=7001)


def test_a_machine_without_one_has_none(driver):
    CONF.set_override("reachability_timeout", 0, group="static_consoles")
    driver.spawn({"uuid": "u-2", "name": "v6"})
    with pytest.raises(exception.ConsoleTypeUnavailable) as raised:
        driver.get_serial_console({"uuid": "u-2"})
    assert "v6 has no entry in [static_consoles] serial_endpoints" in raised.value.message


def test_adopts_a_configured_console_and_hands_it_out(driver, console_server):
    instance = {"uuid": "u-1", "name": "bmc-7"}
    driver.spawn(instance)
    assert driver.list_instances() == ["u-1"]
    assert driver.get_power_state(instance) == power_state.RUNNING
    assert driver.get_vnc_console({"uuid": "u-1"}) == base.ConsoleEndpoint(
        host="127.0.0.1", port=console_server)


def test_unknown_name_fails_to_build(driver):
    with pytest.raises(exception.NovaConsoleException, match="No console named"):
        driver.spawn({"uuid": "u-2", "name": "not-listed"})
    assert driver.list_instances() == []


def test_unreachable_console_fails_to_build(driver):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    CONF.set_override("endpoints", {"gone": "127.0.0.1:%d" % port}, group="static_consoles")
    with pytest.raises(exception.NovaConsoleException, match="not reachable"):
        driver.spawn({"uuid": "u-3", "name": "gone"})


def test_adoptions_survive_a_restart_and_deletion_forgets(driver, tmp_path, console_server):
    driver.spawn({"uuid": "u-1", "name": "bmc-7"})
    restarted = static.StaticConsoleDriver()
    restarted.init_host("host-1")
    assert restarted.get_vnc_console({"uuid": "u-1"}).port == console_server
    restarted.destroy({"uuid": "u-1"})
    with pytest.raises(exception.InstanceNotFound):
        restarted.get_vnc_console({"uuid": "u-1"})


def test_console_removed_from_configuration_stops_validating(driver):
    driver.spawn({"uuid": "u-1", "name": "bmc-7"})
    CONF.set_override("endpoints", {}, group="static_consoles")
    with pytest.raises(exception.InstanceNotFound):
        driver.get_vnc_console({"uuid": "u-1"})


@pytest.mark.parametrize("value,host,port", [("10.0.0.7:5900", "10.0.0.7", 5900),
                                             ("[fd00::9]:5901", "fd00::9", 5901)])
def test_parse_endpoint(value, host, port):
    assert static.parse_endpoint(value) == base.ConsoleEndpoint(host=host, port=port)


@pytest.mark.parametrize("value", ["no-port", "host:", ":5900", "host:99999"])
def test_parse_endpoint_rejects_malformed(value):
    with pytest.raises(ValueError):
        static.parse_endpoint(value)
