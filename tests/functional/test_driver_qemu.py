"""The qemu driver runs real QEMU instances (TCG): the conformance suite, plus what only
QEMU does: the guest's screen and serial port, failures that leave nothing behind, and
re-adoption after a restart that never trusts a recycled pid."""
import collections
import os
import random
import signal
import socket
import subprocess
import time

import pytest

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import conformance
from nova_console.compute.drivers import guest
from nova_console.compute.drivers import loader
from nova_console.compute.drivers import ports
from nova_console.compute.drivers import qemu
from nova_console.compute import power_state
from tests.functional import deployment
from tests.functional.wsclient import ConsoleConnection

CONF = nc_conf.CONF
DRIVER = "nova_console.compute.drivers.qemu:QemuDriver"
LISTEN = "127.0.0.1"
RANGE_SIZE = 8
BOOT_TIMEOUT = 20.0


@pytest.fixture(autouse=True)
def qemu_host(conf, tmp_path):
    """A private state directory and port ranges of 8 ports outside the ephemeral range
    (at random, so that test runs side by side rarely meet); no QEMU may outlive a test."""
    state_path = tmp_path / "state"
    conf.set_override("state_path", str(state_path))
    conf.set_override("server_listen", LISTEN, group="vnc")
    conf.set_override("server_proxyclient_address", LISTEN, group="vnc")
    conf.set_override("proxyclient_address", LISTEN, group="serial_console")
    conf.set_override("enabled", True, group="serial_console")
    vnc_min = random.randrange(20000, 26000, RANGE_SIZE)
    serial_min = random.randrange(26000, 32000, RANGE_SIZE)
    conf.set_override("vnc_port_range", "%d:%d" % (vnc_min, vnc_min + RANGE_SIZE - 1),
                      group="qemu")
    conf.set_override("port_range", "%d:%d" % (serial_min, serial_min + RANGE_SIZE - 1),
                      group="serial_console")
    spice_min = random.randrange(32000, 32600, RANGE_SIZE)
    conf.set_override("spice_port_range", "%d:%d" % (spice_min, spice_min + RANGE_SIZE - 1),
                      group="qemu")
    conf.set_override("server_listen", LISTEN, group="spice")
    conf.set_override("server_proxyclient_address", LISTEN, group="spice")
    conf.set_override("start_timeout", 10.0, group="qemu")
    yield state_path
    leaked = deployment.instance_processes(state_path)
    for pid in leaked:
        os.kill(pid, signal.SIGKILL)
    assert leaked == [], "QEMU processes left running: %s" % leaked


class TestQemuDriverConformance(conformance.DriverConformanceTests):
    serial_echo = True
    boot_timeout = BOOT_TIMEOUT

    def make_driver(self):
        return loader.load_driver(DRIVER)

    def expected_console_output(self, instance):
        return guest.ready_line(instance["name"])


# -- helpers -------------------------------------------------------------------------------

@pytest.fixture
def harness():
    """Drivers and instances, all destroyed after the test (see conformance.Harness)."""
    made = conformance.Harness(TestQemuDriverConformance())
    yield made
    made.close()


def _wait_until_booted(driver, instance):
    ready = guest.ready_line(instance["name"])
    conformance.wait_for(lambda: ready in driver.get_console_output(instance), BOOT_TIMEOUT,
                         message="the ready line of %s" % instance["name"])


def _pixels(screen):
    """(r, g, b) of every pixel of a B, G, R, X framebuffer."""
    return zip(screen[2::4], screen[1::4], screen[0::4])


def _is_yellow(rgb):  # the large name (VGA text attribute 0x1e, see guest/boot.asm)
    return rgb[0] > 200 and rgb[1] > 200 and rgb[2] < 128


def _is_blue(rgb):  # the background
    return rgb[2] > 128 and rgb[0] < 64 and rgb[1] < 64


def _screenshot(endpoint):
    with conformance.RFBClient(endpoint.host, endpoint.port) as rfb:
        server_init = rfb.handshake()
        return server_init, rfb.framebuffer()


def _screen_with_the_big_name(endpoint):
    """(ServerInit, framebuffer) once the screen shows a large name (the guest has drawn)."""
    def drawn():
        server_init, screen = _screenshot(endpoint)
        yellow = sum(1 for rgb in _pixels(screen) if _is_yellow(rgb))
        return (server_init, screen) if yellow > 2000 else None

    return conformance.wait_for(drawn, BOOT_TIMEOUT, message="the name on the screen")


def _instance_dir(state_path, instance):
    return state_path / "instances" / instance["uuid"]


def _assert_nothing_left(driver, state_path, instance):
    assert instance["uuid"] not in driver.list_instances()
    assert driver.vnc_ports.held() == {}
    assert driver.serial_ports.held() == {}
    assert not _instance_dir(state_path, instance).exists()
    assert deployment.instance_processes(state_path) == []


def _kill_behind_the_drivers_back(driver, instance):
    known = driver._instances[instance["uuid"]]
    os.kill(known.pid, signal.SIGKILL)
    assert known.exits_within(5)  # and reaped
    return known.pid


# -- the guest -----------------------------------------------------------------------------

def test_screen_shows_the_name_large_and_the_desktop_name_carries_it(harness):
    instance = harness.spawn("screen-vm-1")
    other = harness.spawn("other-vm-2")
    for one in (instance, other):
        _wait_until_booted(harness.driver, one)

    screens = {}
    for one in (instance, other):
        server_init, screen = _screen_with_the_big_name(harness.driver.get_vnc_console(one))
        assert server_init.name == "QEMU (%s)" % one["name"]
        colours = collections.Counter(_pixels(screen))
        assert _is_blue(colours.most_common(1)[0][0])
        assert len(colours) >= 3  # background, the large name, the name in small letters
        screens[one["name"]] = screen

    assert screens["screen-vm-1"] != screens["other-vm-2"]


def test_guest_echoes_its_serial_port_byte_for_byte(harness):
    instance = harness.spawn()
    _wait_until_booted(harness.driver, instance)
    endpoint = harness.driver.get_serial_console(instance)
    payload = bytes(range(256)) * 8

    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as serial:
        serial.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = serial.recv(65536)
            assert chunk, "the serial port closed"
            received += chunk

    assert received == payload


def test_odd_names_are_shown_safely(harness):
    name = "web,01 \u00e9t\u00e9\t" + "x" * 80
    instance = harness.spawn(name)

    desktop = harness.driver.get_vnc_console(instance)
    with conformance.RFBClient(desktop.host, desktop.port) as rfb:
        assert rfb.handshake().name == "QEMU (web,01 \u00e9t\u00e9?%s)" % ("x" * 80)
    _wait_until_booted(harness.driver, instance)
    ready = guest.ready_line(name)
    assert ready == "nova_console guest web,01 ?t??%s... ready\r\n" % ("x" * 50)


def test_guest_image_is_a_boot_sector_with_the_name_patched_in(tmp_path):
    path = guest.build_image("vm-\u00e9", str(tmp_path))

    with open(path, "rb") as image:
        data = image.read()
    assert len(data) == guest.FLOPPY_SIZE
    assert data[510:512] == b"\x55\xaa"
    assert b"vm-?\0" in data[:512]
    assert guest.guest_name("a" * 100) == "a" * 61 + "..."


# -- failures leave nothing behind -------------------------------------------------------------

@pytest.mark.parametrize("option, value, expected", [
    ("binary", "/nonexistent/qemu-system-x86_64", "cannot run QEMU"),
    ("extra_args", "-no-such-option", "QEMU exited with status 1"),
])
def test_qemu_that_fails_to_start_leaves_nothing_behind(harness, qemu_host, option, value,
                                                        expected):
    CONF.set_override(option, value, group="qemu")
    instance = {"uuid": "6b0f0c1e-54a1-4f3c-9d1e-5a0c3b2a1f00", "name": "doomed"}

    with pytest.raises(exception.InstanceDeployFailure) as failure:
        harness.driver.spawn(instance)

    assert expected in failure.value.message
    assert instance["uuid"] in failure.value.message
    if option == "extra_args":
        assert "no-such-option" in failure.value.message  # QEMU's own words
    _assert_nothing_left(harness.driver, qemu_host, instance)
    CONF.clear_override(option, group="qemu")
    harness.spawn()  # the ports are free again


def test_exhausted_port_range_is_a_readable_error_and_leaves_nothing_behind(harness, qemu_host):
    first_port = int(CONF.serial_console.port_range.split(":")[0])
    CONF.set_override("port_range", "%d:%d" % (first_port, first_port + 1),
                      group="serial_console")
    driver = harness.new_driver()
    kept = [harness.spawn(driver=driver), harness.spawn(driver=driver)]
    doomed = {"uuid": "6b0f0c1e-54a1-4f3c-9d1e-5a0c3b2a1f01", "name": "one-too-many"}

    with pytest.raises(exception.SocketPortRangeExhaustedException) as failure:
        driver.spawn(doomed)

    assert failure.value.code == 500
    assert failure.value.message == (
        "Not able to acquire a free port for 127.0.0.1: every port of the range "
        "%d:%d ([serial_console] port_range) is in use." % (first_port, first_port + 1))
    assert doomed["uuid"] not in driver.list_instances()
    assert not _instance_dir(qemu_host, doomed).exists()
    assert sorted(driver.vnc_ports.held().values()) == sorted(i["uuid"] for i in kept)

    driver.destroy(kept[0])
    harness.spawn(driver=driver)  # a released port is handed out again


def test_port_used_by_another_program_is_skipped(harness):
    first_port = int(CONF.serial_console.port_range.split(":")[0])
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((LISTEN, first_port))
        squatter.listen(1)
        driver = harness.new_driver()

        instance = harness.spawn(driver=driver)

        assert driver.get_serial_console(instance).port != first_port


def test_qemu_driver_that_cannot_load_says_why(conf):
    conf.set_override("binary", "/nonexistent/qemu", group="qemu")
    with pytest.raises(exception.DriverLoadError) as no_binary:
        loader.load_driver(DRIVER)
    assert "/nonexistent/qemu" in no_binary.value.message

    conf.clear_override("binary", group="qemu")
    conf.set_override("vnc_port_range", "100:200", group="qemu")
    with pytest.raises(exception.DriverLoadError) as low_range:
        loader.load_driver(DRIVER)
    assert "below 5900" in low_range.value.message

    conf.set_override("vnc_port_range", "6000:5990", group="qemu")
    with pytest.raises(exception.DriverLoadError) as backwards:
        loader.load_driver(DRIVER)
    assert "min not above max" in backwards.value.message


# -- instances that die behind the driver's back --------------------------------------------

def test_instance_whose_qemu_died_is_shut_down_until_destroyed(harness, qemu_host):
    instance = harness.spawn()
    _wait_until_booted(harness.driver, instance)
    _kill_behind_the_drivers_back(harness.driver, instance)

    assert harness.driver.get_power_state(instance) == power_state.SHUTDOWN
    assert instance["uuid"] in harness.driver.list_instances()
    with pytest.raises(exception.InstanceNotRunning) as not_running:
        harness.driver.get_vnc_console(instance)
    assert not_running.value.code == 409
    with pytest.raises(exception.InstanceNotRunning):
        harness.driver.get_serial_console(instance)
    with pytest.raises(exception.InstanceNotRunning):
        harness.driver.reboot(instance)
    assert guest.ready_line(instance["name"]) in harness.driver.get_console_output(instance)

    harness.driver.destroy(instance)

    _assert_nothing_left(harness.driver, qemu_host, instance)


def test_restart_forgets_instances_whose_qemu_died(harness, qemu_host):
    alive, dead = harness.spawn(), harness.spawn()
    _kill_behind_the_drivers_back(harness.driver, dead)
    harness.stop(harness.driver)

    restarted = harness.new_driver()

    assert restarted.list_instances() == [alive["uuid"]]
    assert not _instance_dir(qemu_host, dead).exists()
    assert set(restarted.vnc_ports.held().values()) == {alive["uuid"]}


def test_restart_never_adopts_or_signals_a_recycled_pid(harness, qemu_host):
    instance = harness.spawn()
    _kill_behind_the_drivers_back(harness.driver, instance)
    harness.stop(harness.driver)
    # The pid QEMU had now belongs to some other program.
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        (_instance_dir(qemu_host, instance) / qemu.PIDFILE).write_text("%d\n" % stranger.pid)

        restarted = harness.new_driver()

        assert restarted.list_instances() == []
        assert not _instance_dir(qemu_host, instance).exists()
        time.sleep(0.1)
        assert stranger.poll() is None  # not signalled
    finally:
        stranger.kill()
        stranger.wait()


def test_restart_stops_a_qemu_without_a_usable_record(harness, qemu_host):
    instance = harness.spawn()
    pid = harness.driver._instances[instance["uuid"]].pid
    harness.stop(harness.driver)
    (_instance_dir(qemu_host, instance) / qemu.RECORD).write_text("{not json")

    restarted = harness.new_driver()

    assert restarted.list_instances() == []
    assert not qemu.is_instance_process(pid, instance["uuid"])
    assert not _instance_dir(qemu_host, instance).exists()


def test_serial_console_can_be_turned_off(harness, conf):
    conf.set_override("enabled", False, group="serial_console")
    driver = harness.new_driver()
    instance = harness.spawn(driver=driver)

    with pytest.raises(exception.ConsoleTypeUnavailable):
        driver.get_serial_console(instance)
    assert driver.serial_ports.held() == {}
    _wait_until_booted(driver, instance)  # the console log still works


# -- SPICE ---------------------------------------------------------------------------------

def _spice_link_error(endpoint):
    with ConsoleConnection.open_direct(endpoint.host, endpoint.port) as spice:
        return spice.spice_link()


def test_spice_server_takes_a_link_and_its_port_is_freed_with_the_instance(harness, conf):
    conf.set_override("enabled", True, group="spice")
    driver = harness.new_driver()
    instance = harness.spawn(driver=driver)
    endpoint = driver.get_spice_console(instance)
    assert endpoint.host == LISTEN
    assert endpoint.port in range(driver.spice_ports.port_min, driver.spice_ports.port_max + 1)
    assert endpoint.port != driver.get_vnc_console(instance).port
    assert _spice_link_error(endpoint) == 0

    driver.destroy(instance)
    assert driver.spice_ports.held() == {}
    assert not ports.accepts(endpoint.host, endpoint.port)


def test_a_restarted_driver_keeps_each_instances_spice_port(harness, conf):
    conf.set_override("enabled", True, group="spice")
    driver = harness.new_driver()
    instance = harness.spawn(driver=driver)
    port = driver.get_spice_console(instance).port
    harness.stop(driver)

    restarted = harness.new_driver()

    assert restarted.spice_ports.held() == {port: instance["uuid"]}
    assert restarted.get_spice_console(instance).port == port
    assert _spice_link_error(restarted.get_spice_console(instance)) == 0
    assert harness.spawn(driver=restarted) and len(set(restarted.spice_ports.held())) == 2


def test_an_instance_started_without_spice_says_so(harness):
    instance = harness.spawn()
    with pytest.raises(exception.ConsoleTypeUnavailable) as raised:
        harness.driver.get_spice_console(instance)
    assert "was started without a SPICE server" in raised.value.message
    assert harness.driver.spice_ports.held() == {}


def test_an_exhausted_spice_port_range_leaves_nothing_behind(harness, qemu_host, conf):
    conf.set_override("enabled", True, group="spice")
    first_port = int(CONF.qemu.spice_port_range.split(":")[0])
    conf.set_override("spice_port_range", "%d:%d" % (first_port, first_port), group="qemu")
    driver = harness.new_driver()
    harness.spawn(driver=driver)
    doomed = {"uuid": "6b0f0c1e-54a1-4f3c-9d1e-5a0c3b2a1f02", "name": "no-spice-port"}

    with pytest.raises(exception.SocketPortRangeExhaustedException) as failure:
        driver.spawn(doomed)

    assert "([qemu] spice_port_range)" in failure.value.message
    assert doomed["uuid"] not in driver.list_instances()
    assert doomed["uuid"] not in driver.vnc_ports.held().values()
    assert doomed["uuid"] not in driver.serial_ports.held().values()
    assert not _instance_dir(qemu_host, doomed).exists()


# -- port allocation -----------------------------------------------------------------------

def test_port_range_must_be_min_colon_max():
    assert ports.parse_port_range("10000:20000") == (10000, 20000)
    for bad in ("10000", "a:b", "0:10", "20:10", "1:70000", "1:2:3"):
        with pytest.raises(ValueError):
            ports.parse_port_range(bad)


def test_allocator_hands_out_round_robin_and_never_a_held_port():
    base_port = random.randrange(20000, 32000 - 4)
    allocator = ports.PortAllocator(LISTEN, base_port, base_port + 2)

    first, second = allocator.allocate("a"), allocator.allocate("b")
    allocator.release(first, "a")
    third = allocator.allocate("c")

    assert len({first, second, third}) == 3  # the released port is the last to come back
    assert allocator.reserve(first, "adopted")
    assert not allocator.reserve(first, "someone-else")
    with pytest.raises(exception.SocketPortRangeExhaustedException):
        allocator.allocate("d")
    allocator.release(second, "not-the-owner")
    assert allocator.held() == {first: "adopted", second: "b", third: "c"}
