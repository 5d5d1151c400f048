"""The libvirt driver runs real libvirt domains (<domain type='qemu'>): the conformance
suite, plus what only libvirt does: the ports in the live domain XML, re-adoption that
touches only our domains, and a libvirt that goes away.

libvirtd is started here when it does not run (``virtlogd -d; libvirtd -d``, as root);
the tests skip, saying why, only where it cannot run (no libvirt-python, no libvirtd, not
root). Every domain a test made is destroyed and undefined after it, and a test fails if
one was left behind.
"""
import contextlib
import glob
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_mod
from xml.etree import ElementTree

import pytest

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute import power_state
from nova_console.compute.drivers import conformance
from nova_console.compute.drivers import guest
from nova_console.compute.drivers import libvirt as libvirt_driver
from nova_console.compute.drivers import loader
from nova_console.compute.drivers import ports
from tests.functional.wsclient import ConsoleConnection

try:
    import libvirt
except ImportError:
    libvirt = None

CONF = nc_conf.CONF
DRIVER = "nova_console.compute.drivers.libvirt:LibvirtDriver"
URI = "qemu:///system"
RUN_DIR = "/var/run/libvirt"
LIBVIRT_SOCKET = os.path.join(RUN_DIR, "libvirt-sock")
VIRTLOGD_SOCKET = os.path.join(RUN_DIR, "virtlogd-sock")
LIBVIRT_QEMU_LOGS = "/var/log/libvirt/qemu"
DAEMON_START_TIMEOUT = 30.0
LISTEN = "127.0.0.1"
RANGE_SIZE = 8
BOOT_TIMEOUT = 20.0

# uuids of every instance a test asked for, for the clean-up after it.
_test_uuids = set()

# Starts the daemons named in its arguments ('<daemon> -d') and stays, detached, as their
# subreaper: the QEMU processes libvirtd daemonizes become its children and are reaped at
# once. libvirt's destroy waits for that, and a container's init may reap late or never.
# It exits once the daemons and their QEMU processes are all gone.
_REAPER = """# nova_console tests: subreaper of libvirtd and its QEMU processes
import ctypes, os, subprocess, sys
if os.fork():
    os._exit(0)
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
for daemon in sys.argv[1:]:
    subprocess.run([daemon, "-d"], stdin=subprocess.DEVNULL, check=False)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


# -- libvirtd ------------------------------------------------------------------------------

def _open_error():
    """None if libvirt at URI answers now, else why not."""
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as exc:
        return str(exc)
    return None


def _listens(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def _daemon(name):
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        pytest.skip("libvirt cannot run here: %s is not installed (Debian: apt-get install "
                    "libvirt-daemon-system)" % name)
    return found


@pytest.fixture(scope="session")
def libvirtd():
    """libvirt at qemu:///system, started (virtlogd -d; libvirtd -d) if it does not answer."""
    if libvirt is None:
        pytest.skip("libvirt-python is not installed: pip install 'nova_console[libvirt]'")
    libvirt.registerErrorHandler(lambda _context, _error: None, None)
    error = _open_error()
    if error is not None or not _listens(VIRTLOGD_SOCKET):
        if os.geteuid() != 0:
            pytest.skip("libvirt at %s is unavailable (%s) and only root may start libvirtd"
                        % (URI, error or "virtlogd does not run"))
        # virtlogd writes the serial consoles' logs; libvirtd does not start it itself.
        daemons = [_daemon("virtlogd")] if not _listens(VIRTLOGD_SOCKET) else []
        if error is not None:
            daemons.append(_daemon("libvirtd"))
        subprocess.run([sys.executable, "-c", _REAPER] + daemons, start_new_session=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while (error := _open_error()) is not None or not _listens(VIRTLOGD_SOCKET):
            if time.monotonic() >= deadline:
                pytest.skip("libvirt cannot run here: libvirtd did not answer within %g "
                            "seconds of 'virtlogd -d; libvirtd -d': %s"
                            % (DAEMON_START_TIMEOUT, error or "virtlogd does not listen"))
            time.sleep(0.2)
    return URI


def _our_domains(conn, instances_path):
    """{uuid: virDomain} of the domains whose files are in `instances_path`."""
    found = {}
    for dom in conn.listAllDomains(0):
        with contextlib.suppress(libvirt.libvirtError):
            described = libvirt_driver.read_domain(dom.XMLDesc(0))
            if described and os.path.dirname(described.path) == instances_path:
                found[described.uuid] = dom
    return found


def _remove(dom):
    with contextlib.suppress(libvirt.libvirtError):
        if dom.isActive():
            dom.destroy()
    with contextlib.suppress(libvirt.libvirtError):
        dom.undefine()


@pytest.fixture
def libvirt_host(libvirtd, conf, tmp_path):
    """Private instances directory (where QEMU's user may enter) and serial port range;
    afterwards no domain of the test may be left."""
    instances_path = tempfile.mkdtemp(prefix="nova-console-libvirt-test-")
    os.chmod(instances_path, 0o755)
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("instances_path", instances_path, group="libvirt")
    conf.set_override("connection_uri", libvirtd, group="libvirt")
    conf.set_override("server_listen", LISTEN, group="vnc")
    conf.set_override("server_proxyclient_address", LISTEN, group="vnc")
    conf.set_override("proxyclient_address", LISTEN, group="serial_console")
    conf.set_override("enabled", True, group="serial_console")
    # Below the qemu driver tests' ranges and the ephemeral ports, above libvirt's VNC ports.
    serial_min = random.randrange(12000, 20000, RANGE_SIZE)
    conf.set_override("port_range", "%d:%d" % (serial_min, serial_min + RANGE_SIZE - 1),
                      group="serial_console")
    _test_uuids.clear()
    yield instances_path
    conn = libvirt.open(URI)
    try:
        leaked = _our_domains(conn, instances_path)
        for dom in leaked.values():
            _remove(dom)
    finally:
        conn.close()
    shutil.rmtree(instances_path, ignore_errors=True)
    for uuid in _test_uuids:  # libvirt's own log of each domain, named after it
        for path in glob.glob(os.path.join(LIBVIRT_QEMU_LOGS, "*[[]%s].log" % uuid)):
            with contextlib.suppress(OSError):
                os.remove(path)
    assert list(leaked) == [], "libvirt domains left behind: %s" % sorted(leaked)


def _make_instance(name):
    instance = {"uuid": str(uuid_mod.uuid4()), "name": name}
    _test_uuids.add(instance["uuid"])
    return instance


@pytest.mark.usefixtures("libvirt_host")
class TestLibvirtConformance(conformance.DriverConformanceTests):
    serial_echo = True
    boot_timeout = BOOT_TIMEOUT

    def make_driver(self):
        return loader.load_driver(DRIVER)

    def make_instance(self, name):
        return _make_instance(name)

    def expected_console_output(self, instance):
        return guest.ready_line(instance["name"])


# -- helpers -------------------------------------------------------------------------------

@pytest.fixture
def harness(libvirt_host):
    """Drivers and instances, all destroyed after the test (see conformance.Harness)."""
    made = conformance.Harness(TestLibvirtConformance())
    yield made
    made.close()


@pytest.fixture
def conn(libvirtd):
    connection = libvirt.open(libvirtd)
    yield connection
    connection.close()


def _live_xml(conn, instance):
    return ElementTree.fromstring(conn.lookupByUUIDString(instance["uuid"]).XMLDesc(0))


def _wait_until_booted(driver, instance):
    ready = guest.ready_line(instance["name"])
    conformance.wait_for(lambda: ready in driver.get_console_output(instance), BOOT_TIMEOUT,
                         message="the ready line of %s" % instance["name"])


def _lookup(conn, instance):
    try:
        return conn.lookupByUUIDString(instance["uuid"])
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def _assert_nothing_left(driver, conn, instances_path, instance):
    assert instance["uuid"] not in driver.list_instances()
    assert driver.serial_ports.held() == {}
    assert not os.path.exists(os.path.join(instances_path, instance["uuid"]))
    assert _lookup(conn, instance) is None


class _SocketRelay:
    """A UNIX socket that relays to libvirtd's, so that a test can take libvirt away
    (stop: nothing listens) or cut its connections (as a libvirtd restart does) without
    touching the daemon other tests use."""

    def __init__(self, path, target=LIBVIRT_SOCKET):
        self.path = path
        self.target = target
        self._listener = None
        self._lock = threading.Lock()
        self._sockets = []

    def start(self):
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(16)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self):
        """Close every relayed connection (the clients see libvirtd go away)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self):
        """Nothing listens any more, and every connection is cut."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            os.unlink(self.path)
        self.cut()


@pytest.fixture
def relay(tmp_path):
    made = _SocketRelay(str(tmp_path / "libvirt-relay.sock"))
    made.start()
    yield made
    made.stop()


# -- the domain ----------------------------------------------------------------------------

def test_live_domain_xml_has_the_ports_the_consoles_give(harness, conn, libvirt_host):
    instance = harness.spawn()
    vnc = harness.driver.get_vnc_console(instance)
    serial = harness.driver.get_serial_console(instance)

    xml = _live_xml(conn, instance)

    assert xml.get("type") == "qemu"
    graphics = xml.find("devices/graphics[@type='vnc']")
    assert graphics.get("autoport") == "yes"
    assert graphics.get("listen") == LISTEN
    assert (vnc.host, vnc.port) == (LISTEN, int(graphics.get("port")))
    source = xml.find("devices/serial[@type='tcp']/source")
    assert (source.get("mode"), source.get("host")) == ("bind", LISTEN)
    assert (serial.host, serial.port) == (LISTEN, int(source.get("service")))
    assert harness.driver.serial_ports.held() == {serial.port: instance["uuid"]}
    log = xml.find("devices/serial/log")
    assert log.get("file") == os.path.join(libvirt_host, instance["uuid"], "console.log")
    assert xml.find("devices/disk[@device='floppy']/source").get("file") == os.path.join(
        libvirt_host, instance["uuid"], guest.IMAGE_NAME)


def test_spice_server_is_in_the_live_xml_takes_a_link_and_survives_a_restart(harness, conn,
                                                                             conf):
    conf.set_override("enabled", True, group="spice")
    conf.set_override("server_listen", LISTEN, group="spice")
    conf.set_override("server_proxyclient_address", LISTEN, group="spice")
    driver = harness.new_driver()
    instance = harness.spawn(driver=driver)
    spice = driver.get_spice_console(instance)

    xml = _live_xml(conn, instance)
    graphics = xml.find("devices/graphics[@type='spice']")
    assert (graphics.get("autoport"), graphics.get("listen")) == ("yes", LISTEN)
    assert (spice.host, spice.port) == (LISTEN, int(graphics.get("port")))
    assert spice.port != driver.get_vnc_console(instance).port
    assert xml.find("devices/channel[@type='spicevmc']/target").get("name") == (
        "com.redhat.spice.0")
    with ConsoleConnection.open_direct(spice.host, spice.port) as client:
        assert client.spice_link() == 0

    harness.stop(driver)
    restarted = harness.new_driver()
    assert restarted.get_spice_console(instance).port == spice.port


def test_without_spice_an_instance_has_no_spice_server(harness, conn):
    instance = harness.spawn()
    assert _live_xml(conn, instance).find("devices/graphics[@type='spice']") is None
    with pytest.raises(exception.ConsoleTypeUnavailable):
        harness.driver.get_spice_console(instance)


def test_desktop_name_is_the_domain_name_which_carries_the_instance_name(harness, conn):
    plain = harness.spawn("web-01")
    odd = harness.spawn("db/02 \u00e9t\u00e9\t" + "x" * 200)

    odd_start = "db?02 \u00e9t\u00e9?"  # no '/' or control characters
    odd_shown = odd_start + "x" * (150 - len(odd_start.encode("utf-8")))  # 150 bytes at most

    for instance, shown in ((plain, "web-01"), (odd, odd_shown)):
        expected = "%s [%s]" % (shown, instance["uuid"])
        assert conn.lookupByUUIDString(instance["uuid"]).name() == expected
        endpoint = harness.driver.get_vnc_console(instance)
        with conformance.RFBClient(endpoint.host, endpoint.port) as rfb:
            assert rfb.handshake().name == "QEMU (%s)" % expected


def test_destroy_undefines_the_domain_and_removes_its_files(harness, conn, libvirt_host):
    instance = harness.spawn()
    _wait_until_booted(harness.driver, instance)

    harness.driver.destroy(instance)

    _assert_nothing_left(harness.driver, conn, libvirt_host, instance)


def test_domain_stopped_behind_the_drivers_back_is_shut_down_until_destroyed(harness, conn,
                                                                            libvirt_host):
    instance = harness.spawn()
    _wait_until_booted(harness.driver, instance)
    conn.lookupByUUIDString(instance["uuid"]).destroy()

    assert harness.driver.get_power_state(instance) == power_state.SHUTDOWN
    assert instance["uuid"] in harness.driver.list_instances()
    with pytest.raises(exception.InstanceNotRunning):
        harness.driver.get_vnc_console(instance)
    with pytest.raises(exception.InstanceNotRunning):
        harness.driver.get_serial_console(instance)
    with pytest.raises(exception.InstanceNotRunning):
        harness.driver.reboot(instance)
    assert guest.ready_line(instance["name"]) in harness.driver.get_console_output(instance)

    harness.driver.destroy(instance)

    _assert_nothing_left(harness.driver, conn, libvirt_host, instance)


def test_serial_console_can_be_turned_off_and_output_is_still_logged(harness, conn, conf):
    conf.set_override("enabled", False, group="serial_console")
    driver = harness.new_driver()
    instance = harness.spawn(driver=driver)

    with pytest.raises(exception.ConsoleTypeUnavailable):
        driver.get_serial_console(instance)
    assert driver.serial_ports.held() == {}
    assert _live_xml(conn, instance).find("devices/serial").get("type") == "null"
    _wait_until_booted(driver, instance)


# -- service restarts ----------------------------------------------------------------------

def test_restart_adopts_running_domains_and_takes_back_their_serial_ports(harness):
    first, second = harness.spawn(), harness.spawn()
    serial = {instance["uuid"]: harness.driver.get_serial_console(instance).port
              for instance in (first, second)}
    harness.stop(harness.driver)

    restarted = harness.new_driver()

    assert sorted(restarted.list_instances()) == sorted(serial)
    assert restarted.serial_ports.held() == {port: uuid for uuid, port in serial.items()}
    for instance in (first, second):
        assert restarted.get_power_state(instance) == power_state.RUNNING
        assert restarted.get_serial_console(instance).port == serial[instance["uuid"]]
        endpoint = restarted.get_vnc_console(instance)
        with conformance.RFBClient(endpoint.host, endpoint.port) as rfb:
            assert instance["name"] in rfb.handshake().name


def test_restart_removes_shut_off_domains_and_stray_directories(harness, conn, libvirt_host):
    alive, dead = harness.spawn(), harness.spawn()
    conn.lookupByUUIDString(dead["uuid"]).destroy()
    harness.stop(harness.driver)
    stray = os.path.join(libvirt_host, str(uuid_mod.uuid4()))
    os.mkdir(stray)

    restarted = harness.new_driver()

    assert restarted.list_instances() == [alive["uuid"]]
    assert _lookup(conn, dead) is None
    assert not os.path.exists(os.path.join(libvirt_host, dead["uuid"]))
    assert not os.path.exists(stray)
    assert set(restarted.serial_ports.held().values()) == {alive["uuid"]}


def test_domains_that_are_not_ours_are_never_touched(harness, conn, libvirt_host):
    other_path = tempfile.mkdtemp(prefix="nova-console-libvirt-other-")
    foreign = _make_instance("someone-else")
    unmarked = _make_instance("not-nova-console")
    xml = libvirt_driver.domain_xml(foreign["uuid"], foreign["name"],
                                    os.path.join(other_path, foreign["uuid"]), "other", None)
    root = ElementTree.fromstring(xml)
    root.find("uuid").text = unmarked["uuid"]
    root.find("name").text = "not-nova-console-%s" % unmarked["uuid"]
    root.remove(root.find("metadata"))
    domains = [conn.defineXML(xml), conn.defineXML(ElementTree.tostring(root, "unicode"))]
    try:
        restarted = harness.new_driver()

        assert restarted.list_instances() == []
        for instance in (foreign, unmarked):
            assert _lookup(conn, instance) is not None  # still defined
            with pytest.raises(exception.Invalid) as taken:
                restarted.spawn(instance)
            assert "not started by this service" in taken.value.message
            restarted.destroy(instance)  # unknown to the driver: a no-op
            assert _lookup(conn, instance) is not None
        assert restarted.serial_ports.held() == {}
    finally:
        for dom in domains:
            _remove(dom)
        shutil.rmtree(other_path, ignore_errors=True)


# -- failures leave nothing behind ---------------------------------------------------------

def test_libvirt_down_is_a_readable_error_and_spawn_leaves_nothing_behind(
        harness, conn, conf, libvirt_host):
    conf.set_override("connection_uri", "qemu:///system?socket=/nonexistent", group="libvirt")
    driver = loader.load_driver(DRIVER)  # loads: libvirt may come up before the first build
    instance = _make_instance("libvirt-down")

    with pytest.raises(exception.NovaConsoleException) as at_start:
        driver.init_host(conformance.HOST)
    with pytest.raises(exception.InstanceDeployFailure) as at_spawn:
        driver.spawn(instance)

    for failure in (at_start, at_spawn):
        assert failure.value.code == 500
        assert ("libvirt at qemu:///system?socket=/nonexistent is unavailable: Failed to "
                "connect socket to '/nonexistent'") in failure.value.message
    assert instance["uuid"] in at_spawn.value.message
    _assert_nothing_left(driver, conn, libvirt_host, instance)


def test_lost_libvirt_connection_is_opened_again(harness, conn, conf, relay, libvirt_host):
    conf.set_override("connection_uri", "qemu:///system?socket=%s" % relay.path,
                      group="libvirt")
    driver = harness.new_driver()
    instance = harness.spawn(driver=driver)

    relay.cut()  # as when libvirtd restarts

    assert driver.get_power_state(instance) == power_state.RUNNING

    relay.stop()  # libvirtd is down
    with pytest.raises(exception.NovaConsoleException) as unavailable:
        driver.get_power_state(instance)
    assert "libvirt at qemu:///system?socket=%s is unavailable" % relay.path in (
        unavailable.value.message)
    doomed = _make_instance("built-while-libvirt-is-down")
    with pytest.raises(exception.InstanceDeployFailure):
        driver.spawn(doomed)
    with pytest.raises(exception.NovaConsoleException):
        driver.destroy(instance)
    assert driver.list_instances() == [instance["uuid"]]  # still there, still deletable
    assert set(driver.serial_ports.held().values()) == {instance["uuid"]}
    assert not os.path.exists(os.path.join(libvirt_host, doomed["uuid"]))

    relay.start()  # libvirtd is back
    driver.destroy(instance)

    _assert_nothing_left(driver, conn, libvirt_host, instance)


def test_exhausted_serial_port_range_defines_no_domain(harness, conn, conf, libvirt_host):
    first_port = int(CONF.serial_console.port_range.split(":")[0])
    conf.set_override("port_range", "%d:%d" % (first_port, first_port), group="serial_console")
    driver = harness.new_driver()
    kept = harness.spawn(driver=driver)
    doomed = _make_instance("one-too-many")

    with pytest.raises(exception.SocketPortRangeExhaustedException):
        driver.spawn(doomed)

    assert _lookup(conn, doomed) is None
    assert not os.path.exists(os.path.join(libvirt_host, doomed["uuid"]))
    assert driver.serial_ports.held() == {first_port: kept["uuid"]}


def test_serial_port_taken_before_qemu_listens_is_retried_on_another(harness, monkeypatch):
    first_port = int(CONF.serial_console.port_range.split(":")[0])
    monkeypatch.setattr(ports, "port_is_free", lambda host, port: True)  # lose the race
    with socket.socket() as squatter:
        squatter.bind((LISTEN, first_port))
        squatter.listen(1)
        driver = harness.new_driver()

        instance = harness.spawn(driver=driver)

        assert driver.get_serial_console(instance).port != first_port
        assert first_port not in driver.serial_ports.held()


def test_failed_start_says_why_and_leaves_nothing_behind(harness, conn, conf, libvirt_host):
    conf.set_override("memory_mb", 1024 * 1024 * 1024, group="libvirt")  # 1 PiB
    driver = harness.new_driver()
    instance = _make_instance("too-big")

    with pytest.raises(exception.InstanceDeployFailure) as failure:
        driver.spawn(instance)

    assert "libvirt could not start its domain" in failure.value.message
    _assert_nothing_left(driver, conn, libvirt_host, instance)


_GREEN_SCRIPT = """
import eventlet
eventlet.monkey_patch()
import sys, time
from nova_console import conf as nc_conf
from nova_console.compute.drivers import loader
CONF = nc_conf.CONF
CONF([], project="nova_console", default_config_files=[])
instances_path, port_range, uuid = sys.argv[1:]
CONF.set_override("instances_path", instances_path, group="libvirt")
CONF.set_override("port_range", port_range, group="serial_console")
driver = loader.load_driver(%r)
driver.init_host("green-host")
instance = {"uuid": uuid, "name": "green"}
driver.spawn(instance)
ticks = []
def tick():
    while True:
        ticks.append(time.monotonic())
        eventlet.sleep(0.005)
ticker = eventlet.spawn(tick)
eventlet.sleep(0.05)
started = time.monotonic()
driver.destroy(instance)  # libvirt's destroy blocks until QEMU is gone and reaped
ended = time.monotonic()
ticker.kill()
print(len([at for at in ticks if started <= at <= ended]), round(ended - started, 3))
""" % DRIVER


def test_libvirt_calls_do_not_block_other_green_threads(libvirt_host):
    instance = _make_instance("green")

    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _GREEN_SCRIPT, libvirt_host,
         CONF.serial_console.port_range, instance["uuid"]],
        capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    ticks, seconds = result.stdout.split()
    # Under eventlet, a libvirt call runs on a native thread: the hub keeps serving.
    assert int(ticks) >= 10, "%s ticks while destroy took %s s" % (ticks, seconds)


def test_driver_without_libvirt_python_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(libvirt_driver, "libvirt", None)

    with pytest.raises(exception.DriverLoadError) as failure:
        loader.load_driver(DRIVER)

    assert "libvirt-python" in failure.value.message
    assert "nova_console[libvirt]" in failure.value.message
