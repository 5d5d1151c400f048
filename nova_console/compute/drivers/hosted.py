"""What the drivers whose instances are guests of this host (qemu, libvirt) share.

``HostedInstancesDriver`` keeps the instance table (uuid -> ``HostedInstance``, each
with a lock of its own so that one destroy or reboot runs at a time), the serial port
allocator, whether SPICE is on, and the instance directories, and serves from them
what is the same for every such driver: spawn's bookkeeping, destroy, reboot's
locking, the instance list, the console endpoints from the recorded ports and the
console output from the log files. A subclass says how an instance is built
(``_build``), torn down (``_teardown``), reset (``_reset_guest``), whether it runs
(``_running``) and where its console log files are (``_console_logs``).
"""
import os
import re
import shutil
import threading
import time

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import base
from nova_console.compute.drivers import ports

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

CONSOLE_OUTPUT_MAX = 1024 * 1024
ADDRESS_IN_USE = "Address already in use"
SPAWN_ATTEMPTS = 3  # another program may take a port before QEMU listens on it

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def checked_uuid(instance):
    """The instance's uuid in lower case; Invalid if it is not a UUID (it names files)."""
    uuid = str(instance.get("uuid", "")).lower()
    if not UUID_RE.match(uuid):
        raise exception.Invalid(reason="instance uuid %r is not a UUID" % instance.get("uuid"))
    return uuid


def read_console_log(uuid, paths):
    """The last CONSOLE_OUTPUT_MAX bytes of the console log files `paths` (oldest first,
    read as one), as text; a missing file reads as empty. For get_console_output."""
    data = b""
    for path in reversed(paths):
        try:
            with open(path, "rb") as log_file:
                log_file.seek(0, os.SEEK_END)
                log_file.seek(max(0, log_file.tell() - (CONSOLE_OUTPUT_MAX - len(data))))
                data = log_file.read(CONSOLE_OUTPUT_MAX - len(data)) + data
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise exception.NovaConsoleException(
                "Could not read the console log of instance %s: %s"
                % (uuid, exc.strerror or exc)) from exc
        if len(data) >= CONSOLE_OUTPUT_MAX:
            break
    return data.decode("utf-8", "replace")


class HostedInstance:
    """One instance of a hosted driver: where its files are, which ports it has."""

    def __init__(self, uuid, name, path, vnc_port=None, serial_port=None, spice_port=None):
        self.uuid = uuid
        self.name = name
        self.path = path
        self.vnc_port = vnc_port
        self.serial_port = serial_port
        self.spice_port = spice_port  # None: no SPICE server (or, libvirt: not known yet)
        self.lock = threading.Lock()  # one destroy or reboot at a time

    def describe(self):
        """Its ports, for the log."""
        return "VNC port %s, serial port %s, SPICE port %s" % (
            self.vnc_port, self.serial_port, self.spice_port)


class HostedInstancesDriver(base.ComputeDriver):
    """Base of the drivers that run each instance as a guest on this host."""

    instances_survive_restart = True
    _log = LOG  # a subclass logs under its own module's name
    _hypervisor = "Hosted"  # for the log: what runs the instances

    def __init__(self):
        self.serial_ports = ports.PortAllocator.from_option(
            CONF.serial_console.proxyclient_address, CONF.serial_console.port_range,
            "[serial_console] port_range")
        self._serial_enabled = CONF.serial_console.enabled
        self._spice_enabled = CONF.spice.enabled
        self._lock = threading.Lock()
        self._instances = {}  # uuid -> HostedInstance
        self._building = set()  # uuids being spawned

    # -- hooks ---------------------------------------------------------------------------

    def _build(self, uuid, name):
        """Make and start instance `uuid`; its HostedInstance."""
        raise NotImplementedError

    def _start(self, instance):
        """Start the guest on the instance's ports; InstanceDeployFailure if it fails."""
        raise NotImplementedError

    def _port_taken(self, instance):
        """After a start that failed because a port was taken: log it, undo the start
        (its ports are released after)."""
        raise NotImplementedError

    def _teardown(self, known):
        """Stop the instance's guest for good (its files and ports are released after)."""
        raise NotImplementedError

    def _reset_guest(self, known):
        """Reset the running guest; called with known.lock held."""
        raise NotImplementedError

    def _running(self, known):
        """`known` if its guest runs, else InstanceNotRunning."""
        raise NotImplementedError

    def _console_logs(self, known):
        """The instance's console log files, oldest first."""
        raise NotImplementedError

    def _vnc_port(self, known):
        return known.vnc_port

    def _spice_port(self, known):
        """The port of the instance's SPICE server; None if it has none."""
        return known.spice_port

    # -- service life --------------------------------------------------------------------

    def _instance_dirs(self, top):
        """(uuid, path) of each instance directory in `top`; other entries are logged."""
        for entry in sorted(os.listdir(top)):
            path = os.path.join(top, entry)
            if not (UUID_RE.match(entry) and os.path.isdir(path)):
                self._log.warning("Ignoring %s: not an instance directory", path)
                continue
            yield entry, path

    def _adopted(self, instance):
        with self._lock:
            self._instances[instance.uuid] = instance
        self._log.info("Adopted running instance %s (%s): %s", instance.uuid, instance.name,
                       instance.describe())

    def cleanup_host(self, host):
        with self._lock:
            count = len(self._instances)
        self._log.info("%s driver on %s stops; its %d instance(s) keep running",
                       self._hypervisor, host, count)

    # -- lifecycle -----------------------------------------------------------------------

    def spawn(self, instance):
        uuid = checked_uuid(instance)
        name = str(instance.get("name") or uuid)
        with self._lock:
            if uuid in self._instances or uuid in self._building:
                raise exception.Invalid(reason="instance %s is already running" % uuid)
            self._building.add(uuid)
        built = None
        try:
            built = self._build(uuid, name)
        finally:
            with self._lock:
                self._building.discard(uuid)
                if built is not None:
                    self._instances[uuid] = built
        self._log.info("Spawned instance %s (%s): %s", uuid, name, built.describe())

    def _start_on_free_ports(self, instance):
        """Allocate ports and start the instance; again on other ports, up to
        SPAWN_ATTEMPTS times, while QEMU finds one of them taken."""
        for attempt in range(1, SPAWN_ATTEMPTS + 1):
            self._allocate_ports(instance)
            try:
                self._start(instance)
                return instance
            except exception.InstanceDeployFailure as exc:
                if ADDRESS_IN_USE not in exc.message or attempt == SPAWN_ATTEMPTS:
                    raise
                self._port_taken(instance)
                self._release_ports(instance)

    @staticmethod
    def _wait_for_vnc(instance, host, timeout, stopped_reason, poll_interval):
        """Until the instance's VNC server on host accepts connections; its deadline.
        stopped_reason() says why the instance can no longer start, or None while
        it may: either that or the timeout ends the wait with InstanceDeployFailure."""
        deadline = time.monotonic() + timeout
        while True:
            reason = stopped_reason()
            if reason is None:
                if ports.accepts(host, instance.vnc_port):
                    return deadline
                if time.monotonic() >= deadline:
                    reason = ("its VNC server on %s port %d did not answer within %g seconds"
                              % (host, instance.vnc_port, timeout))
            if reason is not None:
                raise exception.InstanceDeployFailure(instance_id=instance.uuid, reason=reason)
            time.sleep(poll_interval)

    def _allocate_ports(self, instance):
        if self._serial_enabled:
            instance.serial_port = self.serial_ports.allocate(instance.uuid)

    def destroy(self, instance):
        uuid = str(instance.get("uuid", "")).lower()
        with self._lock:
            known = self._instances.get(uuid)
        if known is None:
            return
        with known.lock:
            with self._lock:
                if self._instances.get(uuid) is not known:
                    return  # destroyed meanwhile
            self._teardown(known)
            with self._lock:
                del self._instances[uuid]
            self._release_ports(known)
            shutil.rmtree(known.path, ignore_errors=True)
        self._log.info("Destroyed instance %s (%s)", uuid, known.name)

    def _release_ports(self, instance):
        if instance.serial_port is not None:
            self.serial_ports.release(instance.serial_port, instance.uuid)
        instance.serial_port = None

    def reboot(self, instance):
        known = self._get(instance)
        with known.lock:
            self._reset_guest(known)
        self._log.info("Rebooted instance %s (%s)", known.uuid, known.name)

    # -- state ---------------------------------------------------------------------------

    def list_instances(self):
        with self._lock:
            return list(self._instances)

    # -- consoles ------------------------------------------------------------------------

    def get_vnc_console(self, instance):
        known = self._running(self._get(instance))
        return base.ConsoleEndpoint(host=CONF.vnc.server_proxyclient_address,
                                    port=self._vnc_port(known))

    def get_spice_console(self, instance):
        known = self._running(self._get(instance))
        port = self._spice_port(known)
        if port is None:
            raise exception.ConsoleTypeUnavailable(
                "Unavailable console type spice: instance %s was started without a SPICE "
                "server ([spice] enabled was off); reboot does not add one, a new "
                "instance has it." % known.uuid, console_type="spice")
        return base.ConsoleEndpoint(host=CONF.spice.server_proxyclient_address, port=port)

    def get_serial_console(self, instance):
        known = self._get(instance)
        if known.serial_port is None:
            raise exception.ConsoleTypeUnavailable(console_type="serial")
        self._running(known)
        return base.ConsoleEndpoint(host=CONF.serial_console.proxyclient_address,
                                    port=known.serial_port)

    def get_console_output(self, instance):
        known = self._get(instance)
        return read_console_log(known.uuid, self._console_logs(known))

    # -- helpers -------------------------------------------------------------------------

    def _get(self, instance):
        uuid = str(instance.get("uuid", "")).lower()
        with self._lock:
            known = self._instances.get(uuid)
        if known is None:
            raise exception.InstanceNotFound(instance_id=instance.get("uuid"))
        return known
