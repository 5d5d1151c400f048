"""The libvirt compute driver: every instance is a domain of the local libvirt daemon.

Each instance is a persistent domain (``[libvirt] virt_type``, 'qemu' by default) that
boots the project's guest (``guest.build_image``: its name large on the screen, an echo
on its serial port) from a read-only floppy, with:

- a VNC server on ``[vnc] server_listen``, ``autoport='yes'``: libvirt picks the port
  (its ``remote_display_port_min``/``max``); the driver reads it back from the live
  domain XML after the start;
- its first serial port as a raw TCP server on ``[serial_console] proxyclient_address``
  at a port from ``[serial_console] port_range`` (a null device when serial consoles are
  off), with a ``<log>``: virtlogd copies everything the guest writes there to the
  instance's ``console.log``, also while a client is attached.

Domain name: ``<instance name> [<uuid>]``. QEMU's VNC desktop name is ``QEMU (<domain
name>)``, so a console shows which instance it belongs to; the uuid keeps the name unique
(libvirt requires it, instance names need not be).

Which domains are ours: those whose ``<metadata>`` has an element of NAMESPACE naming
their directory, ``<[libvirt] instances_path>/<uuid>``. Other domains of the same
daemon (other tools', another compute service's with another instances_path) are never
touched. ``init_host`` adopts our running domains (their uuid is libvirt's, so a domain
is always the instance it claims to be), takes back their serial ports from the live
XML, and removes our domains that are shut off and directories without a domain.

An instance's files live in ``<[libvirt] instances_path>/<uuid>/`` (mode 0711):

    boot.img       the guest's floppy image; libvirt gives it to QEMU's user
                   (Debian: libvirt-qemu) while the domain runs (dynamic_ownership)
    console.log    the guest's serial output, written by virtlogd (which rotates it
                   into console.log.0, ... past its max_size)

libvirt-python calls block; under eventlet (the services monkey-patch) they run on
native threads through ``eventlet.tpool`` (``_blocking``), as Nova does. The one
connection is opened on first use and opened again once libvirt closed it; when
libvirt cannot be reached every call fails with "libvirt at <uri> is unavailable: ...".

The host needs libvirtd with its QEMU driver and virtlogd (Debian: libvirt-daemon-system,
qemu-system-x86), nasm for the guest, and libvirt-python in the service's environment.
The compute service connects to ``qemu:///system`` as root (or a member of the libvirt
group) and reads the console logs virtlogd writes (mode 0600, owned by root).
"""
import collections
import os
import shutil
import stat
import threading
from xml.etree import ElementTree

from eventlet import patcher
from eventlet import tpool
from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import guest
from nova_console.compute.drivers import hosted
from nova_console.compute.drivers import ports
from nova_console.compute.drivers import qemu
from nova_console.compute import power_state

try:
    import libvirt
except ImportError:  # an optional dependency: pip install 'nova_console[libvirt]'
    libvirt = None

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

NAMESPACE = "urn:nova-console:libvirt:instance:1"
NAMESPACE_PREFIX = "nova-console"
CONSOLE_LOG = "console.log"
CONSOLE_LOG_BACKUP = CONSOLE_LOG + ".0"  # virtlogd's most recent rotation

# libvirt names its log file '<domain name>.log': a file name has at most 255 bytes.
_NAME_BYTES_MAX = 150
_DIR_MODE = 0o711  # QEMU's user may pass through, not list
_POLL_INTERVAL = 0.05

ElementTree.register_namespace(NAMESPACE_PREFIX, NAMESPACE)


def _power_states():
    return {
        libvirt.VIR_DOMAIN_NOSTATE: power_state.NOSTATE,
        libvirt.VIR_DOMAIN_RUNNING: power_state.RUNNING,
        libvirt.VIR_DOMAIN_BLOCKED: power_state.RUNNING,  # running, waiting for a resource
        libvirt.VIR_DOMAIN_PAUSED: power_state.PAUSED,
        libvirt.VIR_DOMAIN_SHUTDOWN: power_state.RUNNING,  # shutting down, still running
        libvirt.VIR_DOMAIN_SHUTOFF: power_state.SHUTDOWN,
        libvirt.VIR_DOMAIN_CRASHED: power_state.CRASHED,
        libvirt.VIR_DOMAIN_PMSUSPENDED: power_state.PAUSED,
    }


def _blocking(call, *args):
    """call(*args) on a native thread if eventlet patched threads, so that a libvirt call
    blocks only its caller, not every green thread of the service."""
    if patcher.is_monkey_patched("thread"):
        return tpool.execute(call, *args)
    return call(*args)


def _ignore_libvirt_error(_context, _error):
    """libvirt's default handler prints every error on stderr; we raise them instead."""


def _error_code(exc):
    return exc.get_error_code() if isinstance(exc, libvirt.libvirtError) else None


def _alive(conn):
    """False once libvirt closed the connection (or another thread closed it after that)."""
    try:
        return conn.isAlive() == 1
    except libvirt.libvirtError:
        return False


class _Connection:
    """The driver's libvirt connection: opened on first use, again once libvirt closed it.

    A libvirt connection may be used by several threads at once.
    """

    def __init__(self, uri):
        self.uri = uri
        self._lock = threading.Lock()
        self._conn = None

    def unavailable(self, exc):
        return exception.NovaConsoleException(
            "libvirt at %s is unavailable: %s" % (self.uri, exc))

    def get(self):
        """The open connection; NovaConsoleException if libvirt cannot be reached."""
        with self._lock:
            if self._conn is not None and not _alive(self._conn):
                self._close_locked()
            if self._conn is None:
                try:
                    self._conn = _blocking(libvirt.open, self.uri)
                except libvirt.libvirtError as exc:
                    raise self.unavailable(exc) from exc
                LOG.info("Connected to libvirt at %s", self.uri)
            return self._conn

    def run(self, operation, *args, retry=True):
        """operation(connection, *args), in one go on a native thread under eventlet.

        libvirt's own errors are raised as they are while the connection lives; once
        libvirt closed it (restarted, stopped) the operation is tried once more on a new
        connection if `retry` (only for operations that may run twice), and else fails
        with "libvirt at <uri> is unavailable".
        """
        for attempt in (1, 2):
            conn = self.get()
            try:
                return _blocking(operation, conn, *args)
            except libvirt.libvirtError as exc:
                if _alive(conn):
                    raise
                LOG.warning("Lost the connection to libvirt at %s: %s", self.uri, exc)
                self._forget(conn)
                if not retry or attempt == 2:
                    raise self.unavailable(exc) from exc

    def _forget(self, conn):
        with self._lock:
            if self._conn is conn:
                self._close_locked()

    def _close_locked(self):
        conn, self._conn = self._conn, None
        try:
            conn.close()
        except libvirt.libvirtError:
            pass

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._close_locked()


class _Instance(hosted.HostedInstance):
    """One instance of ours: what its domain XML says, as the driver keeps it."""


#: What a domain's XML says about it, for the domains of ours (see _read_domain).
_Domain = collections.namedtuple("_Domain",
                                 "uuid name path active vnc_port serial_port spice_port")


def domain_name(name, uuid):
    """The libvirt domain name of instance `uuid` called `name`: ``<name> [<uuid>]``.

    No control characters or '/' (libvirt refuses them), and the name part cut to
    _NAME_BYTES_MAX bytes of UTF-8.
    """
    text = qemu.display_name(name).replace("/", "?")
    while len(text.encode("utf-8")) > _NAME_BYTES_MAX:
        text = text[:-1]
    return "%s [%s]" % (text, uuid)


def domain_xml(uuid, name, path, host, serial_port, spice=False):
    """The XML that defines the domain of instance `uuid` with its files in `path`
    (a SPICE server too, if `spice`)."""
    domain = ElementTree.Element("domain", type=CONF.libvirt.virt_type)
    ElementTree.SubElement(domain, "name").text = domain_name(name, uuid)
    ElementTree.SubElement(domain, "uuid").text = uuid
    ElementTree.SubElement(domain, "title").text = qemu.display_name(name)
    ours = ElementTree.SubElement(ElementTree.SubElement(domain, "metadata"),
                                  "{%s}instance" % NAMESPACE)
    for tag, text in (("name", qemu.display_name(name)), ("path", path), ("host", host)):
        ElementTree.SubElement(ours, "{%s}%s" % (NAMESPACE, tag)).text = text
    ElementTree.SubElement(domain, "memory", unit="MiB").text = str(CONF.libvirt.memory_mb)
    ElementTree.SubElement(domain, "vcpu").text = "1"
    os_element = ElementTree.SubElement(domain, "os")
    ElementTree.SubElement(os_element, "type", arch="x86_64", machine="pc").text = "hvm"
    ElementTree.SubElement(os_element, "boot", dev="fd")
    ElementTree.SubElement(os_element, "bootmenu", enable="no")
    for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                          ("on_crash", "destroy")):
        ElementTree.SubElement(domain, event).text = action
    devices = ElementTree.SubElement(domain, "devices")

    disk = ElementTree.SubElement(devices, "disk", type="file", device="floppy")
    ElementTree.SubElement(disk, "driver", name="qemu", type="raw")
    ElementTree.SubElement(disk, "source", file=os.path.join(path, guest.IMAGE_NAME))
    ElementTree.SubElement(disk, "target", dev="fda", bus="fdc")
    ElementTree.SubElement(disk, "readonly")

    if serial_port is not None:
        serial = ElementTree.SubElement(devices, "serial", type="tcp")
        ElementTree.SubElement(serial, "source", mode="bind", service=str(serial_port),
                               host=CONF.serial_console.proxyclient_address, tls="no")
        ElementTree.SubElement(serial, "protocol", type="raw")
    else:  # no serial console: the guest's output still goes to the console log
        serial = ElementTree.SubElement(devices, "serial", type="null")
    ElementTree.SubElement(serial, "log", file=os.path.join(path, CONSOLE_LOG), append="on")
    ElementTree.SubElement(serial, "target", port="0")

    graphics = ElementTree.SubElement(devices, "graphics", type="vnc", autoport="yes",
                                      listen=CONF.vnc.server_listen)
    ElementTree.SubElement(graphics, "listen", type="address", address=CONF.vnc.server_listen)
    if spice:
        _add_spice(devices)
    ElementTree.SubElement(ElementTree.SubElement(devices, "video"), "model", type="vga")
    ElementTree.SubElement(devices, "memballoon", model="none")
    return ElementTree.tostring(domain, encoding="unicode")


def _add_spice(devices):
    """A SPICE server on [spice] server_listen (libvirt picks its port, as for VNC), and
    the SPICE agent's channel when [spice] agent_enabled. No ticket: the proxies in
    front of it check the console tokens."""
    listen = CONF.spice.server_listen
    graphics = ElementTree.SubElement(devices, "graphics", type="spice", autoport="yes",
                                      listen=listen)
    ElementTree.SubElement(graphics, "listen", type="address", address=listen)
    if CONF.spice.agent_enabled:
        channel = ElementTree.SubElement(devices, "channel", type="spicevmc")
        ElementTree.SubElement(channel, "target", type="virtio", name="com.redhat.spice.0")


def _port(value):
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def read_domain(xml):
    """A _Domain from a domain's XML if it carries our metadata, else None."""
    root = ElementTree.fromstring(xml)
    ours = root.find("metadata/{%s}instance" % NAMESPACE)
    if ours is None:
        return None
    graphics = root.find("devices/graphics[@type='vnc']")
    spice = root.find("devices/graphics[@type='spice']")
    serial = root.find("devices/serial[@type='tcp']/source[@mode='bind']")
    return _Domain(
        uuid=(root.findtext("uuid") or "").lower(),
        name=ours.findtext("{%s}name" % NAMESPACE) or "",
        path=ours.findtext("{%s}path" % NAMESPACE) or "",
        active=root.get("id") not in (None, "-1"),  # only a running domain has an id
        vnc_port=_port(graphics.get("port")) if graphics is not None else None,
        serial_port=_port(serial.get("service")) if serial is not None else None,
        spice_port=_port(spice.get("port")) if spice is not None else None)


def _all_domains(conn):
    """[_Domain] of every domain of ours (their XML read in one go)."""
    found = []
    for dom in conn.listAllDomains(0):
        try:
            described = read_domain(dom.XMLDesc(0))
        except libvirt.libvirtError as exc:
            if _error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
                continue  # undefined meanwhile
            raise
        if described is not None:
            found.append(described)
    return found


def _lookup(conn, uuid):
    """The domain with this uuid, or None."""
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as exc:
        if _error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def _describe_domain(conn, uuid):
    """(domain name, _Domain or None if not ours) of the domain `uuid`; None if none."""
    dom = _lookup(conn, uuid)
    if dom is None:
        return None
    try:
        return dom.name(), read_domain(dom.XMLDesc(0))
    except libvirt.libvirtError as exc:
        if _error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def _define_and_start(conn, xml):
    """Define the domain and start it; the _Domain its live XML describes (with the
    VNC and SPICE ports libvirt gave it)."""
    dom = conn.defineXML(xml)
    dom.create()
    return read_domain(dom.XMLDesc(0))


def _remove_domain(conn, uuid, path):
    """Stop (if running) and undefine the domain `uuid` if it is ours with files in
    `path`; True if there is no such domain any more, False if a foreign one has the uuid."""
    dom = _lookup(conn, uuid)
    if dom is None:
        return True
    try:
        described = read_domain(dom.XMLDesc(0))
        if described is None or described.path != path:
            return False
        if dom.isActive():
            dom.destroy()  # SIGTERM, SIGKILL if need be; returns once QEMU has exited
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                          | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                          | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError as exc:
        if _error_code(exc) != libvirt.VIR_ERR_NO_DOMAIN:
            raise
    return True


def _is_active(conn, uuid):
    dom = _lookup(conn, uuid)
    return dom is not None and bool(dom.isActive())


def _state(conn, uuid):
    """libvirt's state of the domain `uuid`, VIR_DOMAIN_SHUTOFF if there is none."""
    dom = _lookup(conn, uuid)
    if dom is None:
        return libvirt.VIR_DOMAIN_SHUTOFF
    try:
        return dom.state(0)[0]
    except libvirt.libvirtError as exc:
        if _error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
            return libvirt.VIR_DOMAIN_SHUTOFF
        raise


def _reset(conn, uuid):
    """Reset the domain `uuid`; False if it does not run."""
    dom = _lookup(conn, uuid)
    if dom is None or not dom.isActive():
        return False
    try:
        dom.reset(0)
    except libvirt.libvirtError as exc:
        if _error_code(exc) in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID):
            return False  # stopped meanwhile
        raise
    return True


def _unreachable_dirs(path):
    """Directories from / to `path` that users other than their owner cannot pass."""
    blocked = []
    current = path
    while True:
        try:
            if not os.stat(current).st_mode & stat.S_IXOTH:
                blocked.append(current)
        except OSError:
            pass
        parent = os.path.dirname(current)
        if parent == current:
            return blocked[::-1]
        current = parent


class LibvirtDriver(hosted.HostedInstancesDriver):
    """Runs each instance as a libvirt domain; instances outlive the compute service."""

    _log = LOG
    _hypervisor = "libvirt"
    hypervisor_type = "QEMU"

    def __init__(self):
        if libvirt is None:
            raise ImportError("the libvirt driver needs libvirt-python: pip install "
                              "'nova_console[libvirt]' (building it needs Debian's "
                              "libvirt-dev and pkg-config)")
        libvirt.registerErrorHandler(_ignore_libvirt_error, None)
        guest.template()  # no nasm, no guest: better said at start-up than at every spawn
        super().__init__()
        self._instances_path = os.path.abspath(CONF.libvirt.instances_path)
        self._connection = _Connection(CONF.libvirt.connection_uri)
        self._host = CONF.host

    # -- service life --------------------------------------------------------------------

    def init_host(self, host):
        self._host = host
        domains = self._connection.run(_all_domains)
        self._make_dir(self._instances_path)
        blocked = _unreachable_dirs(self._instances_path)
        if blocked:
            LOG.warning("QEMU may not reach the instances' images in %s when libvirt runs "
                        "it as another user (Debian: libvirt-qemu): %s not searchable by "
                        "others (mode o+x); builds would fail with 'Permission denied'",
                        self._instances_path, ", ".join(blocked))
        adopted = set()
        for domain in domains:
            if domain.path != self._instance_path(domain.uuid):
                continue  # another compute service's, or another instances_path's
            if domain.active:
                self._adopt(domain)
                adopted.add(domain.uuid)
            else:
                LOG.info("Instance %s no longer runs: removing its domain and %s",
                         domain.uuid, domain.path)
                try:
                    self._connection.run(_remove_domain, domain.uuid, domain.path)
                except libvirt.libvirtError as exc:
                    LOG.error("Could not undefine the domain of instance %s: %s",
                              domain.uuid, exc)
        for entry, path in self._instance_dirs(self._instances_path):
            if entry not in adopted:
                LOG.info("Removing %s: no domain of libvirt is instance %s", path, entry)
                shutil.rmtree(path, ignore_errors=True)
        LOG.info("libvirt driver on %s: %d running instance(s) adopted from %s", host,
                 len(adopted), self._connection.uri)

    def _adopt(self, domain):
        instance = _Instance(domain.uuid, domain.name, domain.path, domain.vnc_port,
                             domain.serial_port, domain.spice_port)
        if instance.serial_port is not None and not self.serial_ports.reserve(
                instance.serial_port, instance.uuid):
            LOG.error("Serial port %d of instance %s is also in the XML of instance %s",
                      instance.serial_port, instance.uuid,
                      self.serial_ports.held().get(instance.serial_port))
        self._adopted(instance)

    def cleanup_host(self, host):
        self._connection.close()
        super().cleanup_host(host)

    # -- lifecycle -----------------------------------------------------------------------

    def _build(self, uuid, name):
        path = self._instance_path(uuid)
        try:
            self._take_over_uuid(uuid, path)  # first: libvirt down fails here, nothing made
        except exception.Invalid:
            raise
        except (exception.NovaConsoleException, libvirt.libvirtError) as exc:
            raise exception.InstanceDeployFailure(instance_id=uuid, reason=str(exc)) from exc
        instance = _Instance(uuid, name, path)
        try:
            self._make_dir(self._instances_path)
            if os.path.lexists(path):
                shutil.rmtree(path)
            self._make_dir(path)
            guest.build_image(name, path)
            return self._start_on_free_ports(instance)
        except BaseException as exc:
            self._remove_quietly(instance)
            if isinstance(exc, (guest.GuestImageError, OSError, libvirt.libvirtError)):
                raise exception.InstanceDeployFailure(instance_id=uuid,
                                                      reason=str(exc)) from exc
            if type(exc) is exception.NovaConsoleException:  # libvirt went away
                raise exception.InstanceDeployFailure(instance_id=uuid,
                                                      reason=exc.message) from exc
            raise

    def _take_over_uuid(self, uuid, path):
        """Make sure libvirt has no domain `uuid`: Invalid if it runs one, or has one that
        is not ours; a shut-off domain of ours (left by a failed clean-up) is removed."""
        found = self._connection.run(_describe_domain, uuid)
        if found is None:
            return
        name, described = found
        if described is not None and described.path == path and not described.active:
            LOG.info("Removing the shut-off domain %r left by instance %s", name, uuid)
            if self._connection.run(_remove_domain, uuid, path):
                return
        raise exception.Invalid(
            reason="libvirt already has a domain %r with the uuid of instance %s, not "
                   "started by this service" % (name, uuid))

    def _start(self, instance):
        """Define and start the domain, then wait until its VNC server answers."""
        xml = domain_xml(instance.uuid, instance.name, instance.path, self._host,
                         instance.serial_port, spice=self._spice_enabled)
        LOG.debug("Starting instance %s: %s", instance.uuid, xml)
        try:
            # Not retried on a new connection: libvirt may have done it already.
            started = self._connection.run(_define_and_start, xml, retry=False)
            instance.vnc_port, instance.spice_port = started.vnc_port, started.spice_port
        except libvirt.libvirtError as exc:
            raise exception.InstanceDeployFailure(
                instance_id=instance.uuid,
                reason="libvirt could not start its domain: %s" % exc) from exc
        if instance.vnc_port is None or (self._spice_enabled and instance.spice_port is None):
            raise exception.InstanceDeployFailure(
                instance_id=instance.uuid,
                reason="libvirt started its domain without a %s port"
                       % ("VNC" if instance.vnc_port is None else "SPICE"))
        self._wait_until_ready(instance)

    def _wait_until_ready(self, instance):
        def stopped_reason():
            if self._connection.run(_is_active, instance.uuid):
                return None
            return ("its domain stopped right after the start (see libvirt's log of domain "
                    "%r)" % domain_name(instance.name, instance.uuid))

        self._wait_for_vnc(instance, ports.connect_host(CONF.vnc.server_listen),
                           CONF.libvirt.start_timeout, stopped_reason, _POLL_INTERVAL)

    def _port_taken(self, instance):
        LOG.info("Serial port %s of instance %s was taken before QEMU could listen on it; "
                 "trying another", instance.serial_port, instance.uuid)
        self._remove_domain(instance)

    def _teardown(self, known):
        self._remove_domain(known)

    def _remove_domain(self, instance):
        """Stop and undefine the instance's domain; a readable error if libvirt cannot."""
        try:
            ours = self._connection.run(_remove_domain, instance.uuid, instance.path)
        except libvirt.libvirtError as exc:
            raise exception.NovaConsoleException(
                "Could not remove the domain of instance %s: %s" % (instance.uuid, exc)
            ) from exc
        if not ours:
            LOG.warning("libvirt's domain %s is no longer instance %s (%s): its metadata "
                        "names other files. Left alone.", instance.uuid, instance.uuid,
                        instance.name)

    def _remove_quietly(self, instance):
        """After a failed build: remove what it made, and log what cannot be."""
        try:
            self._remove_domain(instance)
        except exception.NovaConsoleException as exc:
            LOG.error("%s The next start of the compute service removes it.", exc.message)
        self._release_ports(instance)
        shutil.rmtree(instance.path, ignore_errors=True)

    def _reset_guest(self, known):
        try:
            reset = self._connection.run(_reset, known.uuid, retry=False)
        except libvirt.libvirtError as exc:
            raise exception.NovaConsoleException(
                "Could not reset instance %s: %s" % (known.uuid, exc)) from exc
        if not reset:
            raise exception.InstanceNotRunning(instance_id=known.uuid)

    # -- state ---------------------------------------------------------------------------

    def get_power_state(self, instance):
        known = self._get(instance)
        state = self._libvirt(_state, known)
        return _power_states().get(state, power_state.NOSTATE)

    # -- consoles ------------------------------------------------------------------------

    def _vnc_port(self, known):
        if known.vnc_port is None:  # adopted while libvirt had not given it one yet
            found = self._libvirt(_describe_domain, known)
            known.vnc_port = found[1].vnc_port if found and found[1] else None
            if known.vnc_port is None:
                raise exception.InstanceNotRunning(instance_id=known.uuid)
        return known.vnc_port

    @staticmethod
    def _console_logs(known):
        return [os.path.join(known.path, CONSOLE_LOG_BACKUP),
                os.path.join(known.path, CONSOLE_LOG)]

    # -- helpers -------------------------------------------------------------------------

    def _instance_path(self, uuid):
        return os.path.join(self._instances_path, uuid)

    @staticmethod
    def _make_dir(path):
        """Create `path` (mode 0711 whatever the umask); an existing one is left as it is."""
        try:
            os.makedirs(path, mode=_DIR_MODE)
        except FileExistsError:
            return
        os.chmod(path, _DIR_MODE)

    def _libvirt(self, operation, known):
        """operation(connection, uuid) for a read; libvirt's errors made readable."""
        try:
            return self._connection.run(operation, known.uuid)
        except libvirt.libvirtError as exc:
            raise exception.NovaConsoleException(
                "libvirt failed on instance %s: %s" % (known.uuid, exc)) from exc

    def _running(self, known):
        if not self._libvirt(_is_active, known):
            raise exception.InstanceNotRunning(instance_id=known.uuid)
        return known

