"""A conformance test suite for compute drivers: point it at your driver.

Every test checks one promise of ``nova_console.compute.drivers.base`` against real
consoles: it connects to the VNC (and serial) endpoints the driver hands out and
speaks the protocol. In a test module of your own repository::

    from nova_console.compute.drivers import conformance

    class TestMyDriver(conformance.DriverConformanceTests):
        serial_echo = False            # your guest does not echo its serial port

        def make_driver(self):
            return MyDriver()          # a new driver; the suite calls init_host()

and run it with pytest (>= 8). Options (``nova_console.conf.CONF``) your driver needs
can be set in ``make_driver`` or in an autouse fixture of your class; undo them after.

What is tested only if the driver has it: a console type or action the driver refuses
with ``NotImplementedByDriver`` (or ``ConsoleTypeUnavailable``) is skipped, with the
reason; re-adoption after a restart is tested when ``instances_survive_restart`` is
True, and stopping instances in ``cleanup_host`` when it is False. Each test destroys
what it spawned (through every driver it made), and cleans up the drivers.

Hooks (override in your class):

- ``make_driver()``: required; a new, not yet initialised driver.
- ``make_instance(name)``: the instance dict to spawn (default: a fresh uuid and `name`).
- ``console_address(endpoint)``: (host, port) a test connects to for an endpoint
  (default: the endpoint's; override when the proxy address is not reachable from the
  test).
- ``expected_console_output(instance)``: text the guest writes to its console once
  booted, or None (the default) to check only that console output is text.
- ``serial_echo``: True if the guest echoes what it receives on its serial port.
- ``boot_timeout``: seconds a guest may take to boot that far.

``RFBClient`` is the small VNC client the suite uses; your own tests may use it too.
"""
import collections
import socket
import struct
import threading
import time
import uuid as uuid_mod

import pytest

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import base
from nova_console.compute import power_state

CONF = nc_conf.CONF


HOST = "conformance-host"
CONNECT_TIMEOUT = 10.0

ServerInit = collections.namedtuple("ServerInit", "width height pixel_format name")

_RFB_VERSIONS = {b"RFB 003.003\n": (3, 3), b"RFB 003.007\n": (3, 7), b"RFB 003.008\n": (3, 8)}
_SECURITY_NONE = 1
# 32 bits per pixel, depth 24, little endian, true colour: bytes B, G, R, unused.
_BGRX = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


class RFBSecurityUnsupported(Exception):
    """The VNC server does not offer security type None."""


class RFBClient:
    """Just enough of an RFB (RFC 6143) client to look at a screen: security None, Raw."""

    def __init__(self, host, port, timeout=CONNECT_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.greeting = None
        self.server_init = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self.sock.close()

    def recv_exact(self, count):
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError("the VNC server closed after %d of %d bytes" % (len(data), count))
            data += chunk
        return bytes(data)

    def read_greeting(self):
        """The server's ProtocolVersion, e.g. b'RFB 003.008\\n'."""
        if self.greeting is None:
            self.greeting = self.recv_exact(12)
        return self.greeting

    def handshake(self):
        """Version, security None, ClientInit (shared); the ServerInit as a namedtuple.

        RFBSecurityUnsupported if the server does not offer security None.
        """
        greeting = self.read_greeting()
        if not greeting.startswith(b"RFB 003."):
            raise AssertionError("not an RFB server: %r" % greeting)
        major_minor = _RFB_VERSIONS.get(greeting, (3, 8) if greeting > b"RFB 003.008\n"
                                        else (3, 3))
        self.sock.sendall(b"RFB 003.%03d\n" % major_minor[1])
        if major_minor == (3, 3):
            (chosen,) = struct.unpack(">I", self.recv_exact(4))
            if chosen == 0:
                raise RFBSecurityUnsupported(self._reason())
            if chosen != _SECURITY_NONE:
                raise RFBSecurityUnsupported("the server requires security type %d" % chosen)
        else:
            (count,) = self.recv_exact(1)
            if count == 0:
                raise RFBSecurityUnsupported(self._reason())
            offered = list(self.recv_exact(count))
            if _SECURITY_NONE not in offered:
                raise RFBSecurityUnsupported("the server offers security types %s, not None "
                                             "(1)" % offered)
            self.sock.sendall(bytes((_SECURITY_NONE,)))
            if major_minor == (3, 8):
                (result,) = struct.unpack(">I", self.recv_exact(4))
                if result != 0:
                    raise AssertionError("security None failed: %s" % self._reason())
        self.sock.sendall(b"\x01")  # ClientInit: share the desktop
        width, height = struct.unpack(">HH", self.recv_exact(4))
        pixel_format = self.recv_exact(16)
        (name_length,) = struct.unpack(">I", self.recv_exact(4))
        name = self.recv_exact(name_length).decode("utf-8", "replace")
        self.server_init = ServerInit(width, height, pixel_format, name)
        return self.server_init

    def _reason(self):
        (length,) = struct.unpack(">I", self.recv_exact(4))
        return self.recv_exact(length).decode("utf-8", "replace")

    def framebuffer(self):
        """The whole screen, 4 bytes a pixel (B, G, R, unused), rows from the top."""
        if self.server_init is None:
            self.handshake()
        width, height = self.server_init.width, self.server_init.height
        self.sock.sendall(b"\x00\x00\x00\x00" + _BGRX                 # SetPixelFormat
                          + struct.pack(">BxHi", 2, 1, 0)             # SetEncodings: Raw
                          + struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
        screen = bytearray(width * height * 4)
        while True:
            (message_type,) = self.recv_exact(1)
            if message_type == 0:  # FramebufferUpdate
                break
            self._skip_server_message(message_type)
        (count,) = struct.unpack(">xH", self.recv_exact(3))
        for _ in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", self.recv_exact(12))
            if encoding != 0:
                raise AssertionError("the server sent encoding %d, not Raw" % encoding)
            data = self.recv_exact(w * h * 4)
            for row in range(h):
                start = ((y + row) * width + x) * 4
                screen[start:start + w * 4] = data[row * w * 4:(row + 1) * w * 4]
        return bytes(screen)

    def _skip_server_message(self, message_type):
        if message_type == 1:  # SetColourMapEntries
            (_, count) = struct.unpack(">xHH", self.recv_exact(5))
            self.recv_exact(6 * count)
        elif message_type == 2:  # Bell
            pass
        elif message_type == 3:  # ServerCutText
            (length,) = struct.unpack(">3xI", self.recv_exact(7))
            self.recv_exact(length)
        else:
            raise AssertionError("unexpected RFB server message type %d" % message_type)


def wait_for(predicate, timeout, interval=0.05, message="condition"):
    """Poll predicate() until it returns something true, and return that; AssertionError
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("%s not met within %g seconds" % (message, timeout))
        time.sleep(interval)


def port_refuses(host, port, timeout=2.0):
    """True if a TCP connection to (host, port) is refused (nobody listens)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True


def optional_feature(call, *args):
    """call(*args), or skip the test if the driver does not have that feature."""
    try:
        return call(*args)
    except exception.NotImplementedByDriver as exc:
        pytest.skip("driver does not implement it: %s" % exc.message)
    except exception.ConsoleTypeUnavailable as exc:
        pytest.skip("turned off in the configuration: %s" % exc.message)


class Harness:
    """What a conformance test works with: drivers it made, instances it spawned."""

    def __init__(self, suite):
        self._suite = suite
        self._drivers = []
        self._stopped = []
        self._instances = []
        self.driver = self.new_driver()

    def new_driver(self):
        """A new driver from make_driver(), after init_host() (as a service restart does)."""
        driver = self._suite.make_driver()
        driver.init_host(self._suite.host)
        self._drivers.append(driver)
        return driver

    def spawn(self, name=None, driver=None):
        """A new instance spawned by `driver` (the first driver by default)."""
        instance = self._suite.make_instance(name or "conformance-%s" % uuid_mod.uuid4().hex[:6])
        self._instances.append(instance)  # destroyed after the test even if spawn fails
        (driver or self.driver).spawn(instance)
        return instance

    def stop(self, driver):
        """cleanup_host() on `driver`, as a service stop does; it is not used after."""
        self._stopped.append(driver)
        driver.cleanup_host(self._suite.host)

    def close(self):
        errors = []
        running = [driver for driver in reversed(self._drivers) if driver not in self._stopped]
        for instance in self._instances:
            for driver in running:
                try:
                    driver.destroy(instance)
                except Exception as exc:
                    errors.append(exc)
        for driver in running:
            try:
                driver.cleanup_host(self._suite.host)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


class DriverConformanceTests:
    """Mix into a ``Test...`` class and implement ``make_driver``; see the module doc."""

    host = HOST
    boot_timeout = 30.0
    serial_echo = False

    def make_driver(self):
        raise NotImplementedError("make_driver() must return a new compute driver")

    def make_instance(self, name):
        return {"uuid": str(uuid_mod.uuid4()), "name": name}

    def console_address(self, endpoint):
        return endpoint.host, endpoint.port

    def expected_console_output(self, instance):
        return None

    @pytest.fixture
    def conformance(self):
        """A Harness, with serial consoles turned on ([serial_console] enabled, off by
        default as in Nova): a driver is checked on every console it can give."""
        CONF.set_override("enabled", True, group="serial_console")
        harness = Harness(self)
        try:
            yield harness
        finally:
            harness.close()
            CONF.clear_override("enabled", group="serial_console")

    # -- helpers -------------------------------------------------------------------------

    def _desktop_name(self, endpoint):
        """The desktop name of the VNC server at `endpoint` (its greeting checked first)."""
        with RFBClient(*self.console_address(endpoint)) as rfb:
            greeting = rfb.read_greeting()
            assert greeting[:8] == b"RFB 003." and greeting.endswith(b"\n"), greeting
            try:
                return rfb.handshake().name
            except RFBSecurityUnsupported as exc:
                pytest.skip("VNC server needs a security type this suite cannot do: %s" % exc)

    def _assert_shows_name(self, endpoint, instance):
        name = self._desktop_name(endpoint)
        assert instance["name"] in name, (
            "the VNC server at %s:%d is %r, not the console of %r"
            % (*self.console_address(endpoint), name, instance["name"]))

    @staticmethod
    def _assert_listed(driver, instance, listed=True):
        uuids = driver.list_instances()
        assert (instance["uuid"] in uuids) == listed, (
            "instance %s %s list_instances() %r" % (instance["uuid"],
                                                    "missing from" if listed else "still in",
                                                    uuids))

    @staticmethod
    def _assert_power_state(driver, instance, expected):
        state = driver.get_power_state(instance)
        assert state == expected, "power state of %s is %r, not %r" % (instance["uuid"],
                                                                      state, expected)

    @staticmethod
    def _assert_same(actual, expected, what):
        assert actual == expected, "%s changed: %r, was %r" % (what, actual, expected)

    @staticmethod
    def _assert_closed(address):
        assert port_refuses(*address), "%s port %d still accepts connections" % address

    def _expected_output(self, driver, instance):
        """expected_console_output(), or None if the driver has no console output."""
        try:
            driver.get_console_output(instance)
        except exception.NotImplementedByDriver:
            return None
        return self.expected_console_output(instance)

    def _wait_for_output(self, driver, instance, expected, count=1):
        return wait_for(lambda: driver.get_console_output(instance).count(expected) >= count,
                        self.boot_timeout,
                        message="console output containing %r %d time(s)" % (expected, count))

    # -- spawn ---------------------------------------------------------------------------

    def test_spawned_instance_is_listed_and_running(self, conformance):
        instance = conformance.spawn()

        self._assert_listed(conformance.driver, instance)
        self._assert_power_state(conformance.driver, instance, power_state.RUNNING)

    def test_vnc_console_is_an_rfb_server_showing_the_instance_name(self, conformance):
        instance = conformance.spawn()

        endpoint = conformance.driver.get_vnc_console(instance)

        assert isinstance(endpoint, base.ConsoleEndpoint), repr(endpoint)
        self._assert_same(conformance.driver.get_vnc_console(instance), endpoint,
                          "the VNC endpoint")
        self._assert_shows_name(endpoint, instance)

    def test_spawning_a_running_instance_again_is_invalid(self, conformance):
        instance = conformance.spawn()
        endpoint = conformance.driver.get_vnc_console(instance)

        with pytest.raises(exception.Invalid):
            conformance.driver.spawn(dict(instance))

        listed = conformance.driver.list_instances()
        assert listed.count(instance["uuid"]) == 1, listed
        self._assert_same(conformance.driver.get_vnc_console(instance), endpoint,
                          "the VNC endpoint")
        self._assert_shows_name(endpoint, instance)

    def test_each_instance_gets_consoles_of_its_own(self, conformance):
        first, second = conformance.spawn(), conformance.spawn()
        driver = conformance.driver

        vnc = [driver.get_vnc_console(instance) for instance in (first, second)]

        assert self.console_address(vnc[0]) != self.console_address(vnc[1]), vnc
        for instance, endpoint in zip((first, second), vnc):
            self._assert_shows_name(endpoint, instance)
        try:
            serial = [driver.get_serial_console(instance) for instance in (first, second)]
        except (exception.NotImplementedByDriver, exception.ConsoleTypeUnavailable):
            return
        assert self.console_address(serial[0]) != self.console_address(serial[1]), serial

    def test_concurrent_spawns_all_succeed_with_distinct_ports(self, conformance):
        names = ["conformance-c%d-%s" % (n, uuid_mod.uuid4().hex[:4]) for n in range(3)]
        spawned, errors = [], []

        def spawn(name):
            try:
                spawned.append(conformance.spawn(name))
            except Exception as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=spawn, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == [], "concurrent spawns failed: %r" % errors
        for instance in spawned:
            self._assert_listed(conformance.driver, instance)
        addresses = [self.console_address(conformance.driver.get_vnc_console(instance))
                     for instance in spawned]
        assert len(set(addresses)) == len(names), "VNC consoles: %r" % addresses

    # -- destroy -------------------------------------------------------------------------

    def test_destroy_forgets_the_instance_and_closes_its_consoles(self, conformance):
        instance = conformance.spawn()
        driver = conformance.driver
        addresses = [self.console_address(driver.get_vnc_console(instance))]
        try:
            addresses.append(self.console_address(driver.get_serial_console(instance)))
        except (exception.NotImplementedByDriver, exception.ConsoleTypeUnavailable):
            pass

        driver.destroy(instance)

        self._assert_listed(driver, instance, listed=False)
        with pytest.raises(exception.InstanceNotFound):
            driver.get_power_state(instance)
        with pytest.raises(exception.InstanceNotFound):
            driver.get_vnc_console(instance)
        for address in addresses:
            self._assert_closed(address)

    def test_destroy_twice_or_of_an_unknown_instance_is_a_no_op(self, conformance):
        kept, destroyed = conformance.spawn(), conformance.spawn()
        conformance.driver.destroy(destroyed)

        conformance.driver.destroy(destroyed)
        conformance.driver.destroy(self.make_instance("conformance-never-spawned"))

        self._assert_listed(conformance.driver, destroyed, listed=False)
        self._assert_listed(conformance.driver, kept)
        self._assert_power_state(conformance.driver, kept, power_state.RUNNING)

    @pytest.mark.parametrize("method", [
        "get_power_state", "get_vnc_console", "get_spice_console", "get_serial_console",
        "get_mks_console", "get_console_output", "reboot"])
    def test_unknown_instance_is_not_found_by_any_method(self, conformance, method):
        conformance.spawn()  # a driver with instances, just not this one
        unknown = self.make_instance("conformance-unknown")

        with pytest.raises((exception.InstanceNotFound,
                            exception.NotImplementedByDriver)) as raised:
            getattr(conformance.driver, method)(unknown)

        if isinstance(raised.value, exception.InstanceNotFound):
            assert raised.value.kwargs == {"instance_id": unknown["uuid"]}, (
                "InstanceNotFound needs instance_id=<uuid> to cross RPC: %r"
                % raised.value.kwargs)

    # -- optional features ----------------------------------------------------------------

    def test_serial_console_reaches_the_guest(self, conformance):
        instance = conformance.spawn()
        endpoint = optional_feature(conformance.driver.get_serial_console, instance)
        assert isinstance(endpoint, base.ConsoleEndpoint), repr(endpoint)

        with socket.create_connection(self.console_address(endpoint),
                                      timeout=CONNECT_TIMEOUT) as serial:
            if not self.serial_echo:
                return
            # Bytes sent before the guest has set up its serial port may be lost: send a
            # marker until it comes back.
            marker = b"conformance-%s" % uuid_mod.uuid4().hex[:8].encode()
            serial.settimeout(0.5)
            received = bytearray()
            deadline = time.monotonic() + self.boot_timeout
            while marker not in received:
                assert time.monotonic() < deadline, "no echo of %r, got %r" % (marker,
                                                                              bytes(received))
                serial.sendall(marker + b"\r\n")
                try:
                    received += serial.recv(4096)
                except socket.timeout:
                    pass
            try:
                conformance.driver.get_console_output(instance)
            except exception.NotImplementedByDriver:
                return
            # What the guest writes still reaches the console log while a client is attached.
            self._wait_for_output(conformance.driver, instance, marker.decode())

    def test_console_output_is_text_from_the_guest(self, conformance):
        instance = conformance.spawn()

        output = optional_feature(conformance.driver.get_console_output, instance)

        assert isinstance(output, str), "console output is %r, not text" % type(output)
        expected = self.expected_console_output(instance)
        if expected:
            self._wait_for_output(conformance.driver, instance, expected)

    def test_reboot_keeps_the_instance_and_its_console(self, conformance):
        instance = conformance.spawn()
        driver = conformance.driver
        endpoint = driver.get_vnc_console(instance)
        expected = self._expected_output(driver, instance)
        if expected:
            self._wait_for_output(driver, instance, expected)

        optional_feature(driver.reboot, instance)

        self._assert_power_state(driver, instance, power_state.RUNNING)
        self._assert_same(driver.get_vnc_console(instance), endpoint, "the VNC endpoint")
        self._assert_shows_name(endpoint, instance)
        if expected:
            self._wait_for_output(driver, instance, expected, count=2)

    # -- service restarts ------------------------------------------------------------------

    def test_instances_survive_a_restart_and_are_adopted(self, conformance):
        if not conformance.driver.instances_survive_restart:
            pytest.skip("the driver's instances do not survive a restart")
        instance = conformance.spawn()
        old = conformance.driver
        vnc = old.get_vnc_console(instance)
        try:
            serial = old.get_serial_console(instance)
        except (exception.NotImplementedByDriver, exception.ConsoleTypeUnavailable):
            serial = None

        conformance.stop(old)
        self._assert_shows_name(vnc, instance)  # still running with the service stopped
        new = conformance.new_driver()

        self._assert_listed(new, instance)
        self._assert_power_state(new, instance, power_state.RUNNING)
        self._assert_same(new.get_vnc_console(instance), vnc, "the VNC endpoint")
        self._assert_shows_name(vnc, instance)
        if serial is not None:
            self._assert_same(new.get_serial_console(instance), serial,
                              "the serial endpoint")
        # What the adopted instance holds is never given to a new one.
        taken = {self.console_address(vnc)}
        if serial is not None:
            taken.add(self.console_address(serial))
        for _ in range(2):
            fresh = conformance.spawn(driver=new)
            given = [self.console_address(new.get_vnc_console(fresh))]
            if serial is not None:
                given.append(self.console_address(new.get_serial_console(fresh)))
            assert not taken.intersection(given), (
                "a new instance got %r, held by the adopted instance" % given)

        new.destroy(instance)
        self._assert_listed(new, instance, listed=False)
        self._assert_closed(self.console_address(vnc))

    def test_cleanup_host_stops_instances_that_do_not_survive_a_restart(self, conformance):
        if conformance.driver.instances_survive_restart:
            pytest.skip("the driver's instances survive a restart")
        instance = conformance.spawn()
        address = self.console_address(conformance.driver.get_vnc_console(instance))

        conformance.stop(conformance.driver)

        self._assert_closed(address)
