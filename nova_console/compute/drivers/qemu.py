"""The qemu compute driver: every instance is a qemu-system-x86_64 process.

Each instance boots the project's guest (``guest.build_image``: its name large on the
screen, an echo on its serial port) with small memory, its VNC server on ``[vnc]
server_listen`` at a port from ``[qemu] vnc_port_range``, its first serial port as a
TCP server on ``[serial_console] proxyclient_address`` at a port from ``[serial_console]
port_range`` and, when ``[spice] enabled``, a SPICE server on ``[spice] server_listen``
at a port from ``[qemu] spice_port_range`` (with the SPICE agent's channel when
``[spice] agent_enabled``). Everything the guest writes to the serial port is also logged to a file,
so console output works while a client is attached.

An instance's files live in ``$state_path/instances/<uuid>/``, which is QEMU's working
directory (its command line names them by short relative paths):

    instance.json  our record: uuid, name, ports, pid
    boot.img       the guest's floppy image
    qemu.pid       written by QEMU at start, removed when it exits
    qemu.log       QEMU's own messages (why it failed to start, for one)
    console.log    the guest's serial output
    qmp.sock       QEMU's QMP control socket (reset, status, VNC check)

Instances outlive the compute service, as in Nova: QEMU runs in a session of its own,
holds no pipe to us, and ``cleanup_host`` leaves it running. ``init_host`` adopts every
instance whose recorded QEMU is still alive: the pid must name a live process whose
command line carries ``-uuid <the instance's uuid>``, so a recycled pid is never
adopted (nor signalled). What is left of other instances is removed.
"""
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time

from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import guest
from nova_console.compute.drivers import hosted
from nova_console.compute.drivers import ports
from nova_console.compute import power_state

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

VNC_BASE_PORT = 5900
INSTANCES_DIR = "instances"
RECORD = "instance.json"
PIDFILE = "qemu.pid"
QEMU_LOG = "qemu.log"
CONSOLE_LOG = "console.log"
QMP_SOCKET = "qmp.sock"
CONSOLE_OUTPUT_MAX = hosted.CONSOLE_OUTPUT_MAX
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

_DISPLAY_NAME_MAX = 255
_POLL_INTERVAL = 0.02
_QMP_TIMEOUT = 5.0
_KILL_WAIT = 5.0
_EXIT_GRACE = 0.5
_LOG_TAIL = 600
# What QEMU's log says when the SPICE port was taken (QEMU then exits).
_SPICE_BIND_FAILED = "reds_init_socket: binding socket"

# QMP query-status -> power state
_POWER_STATES = {
    "running": power_state.RUNNING,
    "shutdown": power_state.SHUTDOWN,
    **dict.fromkeys(("paused", "suspended", "prelaunch", "inmigrate", "postmigrate",
                     "finish-migrate", "restore-vm", "save-vm", "debug", "watchdog", "colo"),
                    power_state.PAUSED),
    **dict.fromkeys(("guest-panicked", "internal-error", "io-error"), power_state.CRASHED),
}


class _QMPError(Exception):
    """QEMU's control socket did not answer, or answered with an error."""


class _Instance(hosted.HostedInstance):
    """One QEMU instance: its record plus, if we started it, its Popen."""

    def __init__(self, uuid, name, path, vnc_port, serial_port, pid, process=None,
                 spice_port=None):
        super().__init__(uuid, name, path, vnc_port, serial_port, spice_port)
        self.pid = pid
        self.process = process  # None for an instance adopted from a previous run
        self.qmp_lock = threading.Lock()  # QEMU serves one QMP client at a time

    def describe(self):
        return "QEMU pid %d, %s" % (self.pid, super().describe())

    def record(self):
        return {"uuid": self.uuid, "name": self.name, "vnc_port": self.vnc_port,
                "serial_port": self.serial_port, "spice_port": self.spice_port,
                "pid": self.pid}

    def is_running(self):
        if self.process is not None:
            return self.process.poll() is None  # also reaps it once it has exited
        return is_instance_process(self.pid, self.uuid)

    def exits_within(self, timeout):
        """True if QEMU is gone, or goes within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.is_running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL)
        return True


def _process_stat(pid):
    """(state letter, start time) of process `pid` from /proc; None if there is none.

    A pid and its start time name one process for good, even after the pid is reused.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def _exited(pid, start_time=None):
    """True once process `pid` (started at `start_time`, if given) is gone or a zombie
    whose files and sockets are all closed."""
    stat = _process_stat(pid)
    if stat is None or (start_time is not None and stat[1] != start_time):
        return True
    if stat[0] not in (b"Z", b"X", b"x"):
        return False
    # The main thread shows as a zombie while other threads still exit; the files are
    # closed only when the last thread is gone.
    try:
        return os.listdir("/proc/%d/task" % pid) in ([], [str(pid)])
    except OSError:
        return True


def is_instance_process(pid, uuid):
    """True if `pid` is a live (not zombie) process whose command line has ``-uuid <uuid>``."""
    if not pid or _exited(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as cmdline_file:
            args = cmdline_file.read().split(b"\0")
    except OSError:
        return False
    wanted = uuid.encode("ascii")
    return any(arg == b"-uuid" and value == wanted for arg, value in zip(args, args[1:]))


# Moved to hosted; still public here under their old names.
checked_uuid = hosted.checked_uuid
read_console_log = hosted.read_console_log


def display_name(name):
    """The name for QEMU's -name (the VNC desktop name): no control characters, capped."""
    text = "".join("?" if ord(ch) < 32 or ch == "\x7f" else ch for ch in str(name))
    return text[:_DISPLAY_NAME_MAX]


def _opt(value):
    """`value` inside a QEMU option list, where a comma is written twice."""
    return value.replace(",", ",,")


def _host_in_address(host):
    return "[%s]" % host if ":" in host else host


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as record_file:
            return json.load(record_file)
    except (OSError, ValueError):
        return None


def _write_record(path, record):
    """Replace the instance's record atomically (a crash never leaves half a file)."""
    temporary = os.path.join(path, RECORD + ".tmp")
    with open(temporary, "w", encoding="utf-8") as record_file:
        json.dump(record, record_file)
        record_file.flush()
        os.fsync(record_file.fileno())
    os.replace(temporary, os.path.join(path, RECORD))


def _read_pid(path, record=None):
    """QEMU's pid: from its pidfile, else from our record; None if neither has one."""
    try:
        with open(os.path.join(path, PIDFILE), encoding="ascii") as pid_file:
            return int(pid_file.read().strip())
    except (OSError, ValueError):
        pass
    pid = (record or {}).get("pid")
    return pid if isinstance(pid, int) and pid > 0 else None


def _log_tail(path):
    """The end of QEMU's own log, on one line, for an error message."""
    try:
        with open(os.path.join(path, QEMU_LOG), "rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            log_file.seek(max(0, log_file.tell() - _LOG_TAIL))
            text = log_file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _valid_record(record, uuid):
    return (isinstance(record, dict) and record.get("uuid") == uuid
            and isinstance(record.get("name"), str)
            and isinstance(record.get("vnc_port"), int)
            and isinstance(record.get("serial_port"), (int, type(None)))
            and isinstance(record.get("spice_port"), (int, type(None))))


def _signal(pid, uuid, signum):
    """Send `signum` to `pid` only if it is still this instance's QEMU.

    Through a pidfd where the kernel has them: it is opened before the check, so the
    signal reaches the process that was checked even if the pid is reused meanwhile.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        pidfd = None
    try:
        if not is_instance_process(pid, uuid):
            return
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _wait_gone(pid, start_time, timeout):
    """True once the process has exited; False if it still runs after `timeout` seconds.

    Not is_instance_process(): an exiting process loses its command line before it
    closes its sockets, and the caller wants the ports closed.
    """
    deadline = time.monotonic() + timeout
    while not _exited(pid, start_time):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


class QemuDriver(hosted.HostedInstancesDriver):
    """Runs each instance as a QEMU process; instances outlive the compute service."""

    _log = LOG
    _hypervisor = "QEMU"
    hypervisor_type = "QEMU"

    def __init__(self):
        binary = CONF.qemu.binary
        if shutil.which(binary) is None:
            raise ValueError("QEMU binary %r ([qemu] binary) is not installed or not "
                             "executable" % binary)
        try:
            shlex.split(CONF.qemu.extra_args)
        except ValueError as exc:
            raise ValueError("[qemu] extra_args %r cannot be split into arguments: %s"
                             % (CONF.qemu.extra_args, exc)) from None
        guest.template()  # no nasm, no guest: better said at start-up than at every spawn
        self.vnc_ports = ports.PortAllocator.from_option(
            CONF.vnc.server_listen, CONF.qemu.vnc_port_range, "[qemu] vnc_port_range")
        if self.vnc_ports.port_min < VNC_BASE_PORT:
            raise ValueError("[qemu] vnc_port_range %r starts below %d, QEMU's first VNC "
                             "port" % (CONF.qemu.vnc_port_range, VNC_BASE_PORT))
        self.spice_ports = ports.PortAllocator.from_option(
            CONF.spice.server_listen, CONF.qemu.spice_port_range, "[qemu] spice_port_range")
        super().__init__()
        self._instances_dir = os.path.join(CONF.state_path, INSTANCES_DIR)

    # -- service life --------------------------------------------------------------------

    def init_host(self, host):
        os.makedirs(self._instances_dir, mode=0o700, exist_ok=True)
        adopted = 0
        for entry, path in self._instance_dirs(self._instances_dir):
            with self._lock:
                if entry in self._instances:
                    continue
            if self._adopt(entry, path):
                adopted += 1
        LOG.info("QEMU driver on %s: %d running instance(s) adopted from %s", host, adopted,
                 self._instances_dir)

    def _adopt(self, uuid, path):
        record = _read_json(os.path.join(path, RECORD))
        pid = _read_pid(path, record)
        alive = is_instance_process(pid, uuid)
        if alive and _valid_record(record, uuid):
            instance = _Instance(uuid, record["name"], path, record["vnc_port"],
                                 record["serial_port"], pid,
                                 spice_port=record.get("spice_port"))
            for allocator, port in ((self.vnc_ports, instance.vnc_port),
                                    (self.serial_ports, instance.serial_port),
                                    (self.spice_ports, instance.spice_port)):
                if port is not None and not allocator.reserve(port, uuid):
                    LOG.error("Port %d of instance %s is also recorded for instance %s",
                              port, uuid, allocator.held().get(port))
            self._adopted(instance)
            return True
        if alive:
            LOG.warning("QEMU process %d of instance %s has no usable record in %s: "
                        "stopping it", pid, uuid, path)
            try:
                self._stop_pid(pid, uuid)
            except exception.NovaConsoleException as exc:
                LOG.error("%s Its files stay in %s.", exc.message, path)
                return False
        else:
            LOG.info("Instance %s no longer runs: removing %s", uuid, path)
        shutil.rmtree(path, ignore_errors=True)
        return False

    # -- lifecycle -----------------------------------------------------------------------

    def _build(self, uuid, name):
        path = os.path.join(self._instances_dir, uuid)
        self._make_instance_dir(uuid, path)
        instance = _Instance(uuid, name, path, None, None, None)
        try:
            guest.build_image(name, path)
            return self._start_on_free_ports(instance)
        except BaseException as exc:
            if instance.process is not None:
                _kill(instance.process)
            self._release_ports(instance)
            shutil.rmtree(path, ignore_errors=True)
            if isinstance(exc, (guest.GuestImageError, OSError)):
                raise exception.InstanceDeployFailure(instance_id=uuid,
                                                      reason=str(exc)) from exc
            raise

    def _make_instance_dir(self, uuid, path):
        try:
            os.makedirs(self._instances_dir, mode=0o700, exist_ok=True)
            if os.path.lexists(path):
                pid = _read_pid(path, _read_json(os.path.join(path, RECORD)))
                if is_instance_process(pid, uuid):
                    raise exception.Invalid(
                        reason="instance %s is already running (QEMU process %d, not started "
                               "by this service)" % (uuid, pid))
                shutil.rmtree(path)
            os.mkdir(path, 0o700)
        except OSError as exc:
            raise exception.InstanceDeployFailure(
                instance_id=uuid, reason="cannot create %s: %s" % (path, exc)) from exc

    def _start(self, instance):
        """Start QEMU and wait until its VNC server answers; InstanceDeployFailure if not."""
        _write_record(instance.path, instance.record())
        argv = self._qemu_argv(instance)
        LOG.debug("Starting instance %s: %s", instance.uuid, shlex.join(argv))
        with open(os.path.join(instance.path, QEMU_LOG), "ab") as qemu_log:
            try:
                # A session of its own: signals meant for the compute service (Ctrl-C in
                # its terminal) do not reach its instances.
                instance.process = subprocess.Popen(
                    argv, cwd=instance.path, stdin=subprocess.DEVNULL, stdout=qemu_log,
                    stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
            except OSError as exc:
                raise exception.InstanceDeployFailure(
                    instance_id=instance.uuid,
                    reason="cannot run QEMU (%s): %s" % (argv[0], exc.strerror or exc)) from exc
        instance.pid = instance.process.pid
        _write_record(instance.path, instance.record())
        try:
            self._wait_until_ready(instance)
        except BaseException:
            _kill(instance.process)
            instance.process = None
            raise

    def _qemu_argv(self, instance):
        if instance.serial_port is not None:
            serial = ("socket,id=serial0,host=%s,port=%d,server=on,wait=off,telnet=off,"
                      "logfile=%s,logappend=on"
                      % (_opt(self.serial_ports.host), instance.serial_port, CONSOLE_LOG))
        else:  # no serial console: the guest's output still goes to the console log
            serial = "null,id=serial0,logfile=%s,logappend=on" % CONSOLE_LOG
        argv = [
            CONF.qemu.binary, "-nodefaults", "-no-user-config",
            "-machine", "pc", "-accel", CONF.qemu.accel, "-m", str(CONF.qemu.memory_mb),
            "-uuid", instance.uuid,
            "-name", "guest=%s,process=qemu-%s" % (_opt(display_name(instance.name)),
                                                   instance.uuid[:8]),
            "-display", "none", "-vga", "std",
            "-vnc", "%s:%d" % (_host_in_address(self.vnc_ports.host),
                               instance.vnc_port - VNC_BASE_PORT),
            "-chardev", serial, "-serial", "chardev:serial0",
            "-drive", "file=%s,format=raw,if=floppy,readonly=on" % guest.IMAGE_NAME,
            "-boot", "order=a,menu=off",
            "-pidfile", PIDFILE,
            "-qmp", "unix:%s,server=on,wait=off" % QMP_SOCKET,
        ]
        if instance.spice_port is not None:
            argv += self._spice_argv(instance.spice_port)
        if CONF.qemu.sandbox:
            argv += ["-sandbox", SANDBOX]
        return argv + shlex.split(CONF.qemu.extra_args)

    def _spice_argv(self, port):
        """A SPICE server on `port`; the SPICE agent's channel, if it is on. No
        ticket: the proxies in front of it check the console tokens."""
        argv = ["-spice", "port=%d,addr=%s,disable-ticketing=on"
                % (port, _opt(self.spice_ports.host))]
        if CONF.spice.agent_enabled:
            argv += ["-device", "virtio-serial-pci",
                     "-chardev", "spicevmc,id=vdagent,name=vdagent",
                     "-device", "virtserialport,chardev=vdagent,name=com.redhat.spice.0"]
        return argv

    def _wait_until_ready(self, instance):
        """Until QEMU's VNC server accepts connections and QEMU confirms it is its own."""
        def stopped_reason():
            status = instance.process.poll()
            if status is None:
                return None
            tail = _log_tail(instance.path)
            taken = "; %s" % hosted.ADDRESS_IN_USE if _SPICE_BIND_FAILED in tail else ""
            return "QEMU exited with status %d: %s%s" % (status, tail or "(no message)",
                                                         taken)

        deadline = self._wait_for_vnc(instance, ports.connect_host(self.vnc_ports.host),
                                      CONF.qemu.start_timeout, stopped_reason, _POLL_INTERVAL)
        # Whoever answered could be another program that took the port first; QEMU
        # says which port its own VNC server has (and that QMP works, for later).
        while True:
            try:
                vnc = self._qmp(instance, "query-vnc")
                break
            except _QMPError as exc:
                status = instance.process.poll()
                if status is not None or time.monotonic() >= deadline:
                    raise exception.InstanceDeployFailure(
                        instance_id=instance.uuid,
                        reason="QEMU does not answer on its control socket: %s%s" % (
                            exc, "" if status is None else " (it exited with status %d: %s)"
                            % (status, _log_tail(instance.path) or "no message"))) from exc
                LOG.debug("QEMU of instance %s not ready for QMP yet: %s", instance.uuid, exc)
                time.sleep(_POLL_INTERVAL)
        if str(vnc.get("service")) != str(instance.vnc_port):
            raise exception.InstanceDeployFailure(
                instance_id=instance.uuid,
                reason="QEMU's VNC server is on port %s, not %d: %s"
                       % (vnc.get("service"), instance.vnc_port, hosted.ADDRESS_IN_USE))

    def _allocate_ports(self, instance):
        instance.vnc_port = self.vnc_ports.allocate(instance.uuid)
        if self._spice_enabled:
            instance.spice_port = self.spice_ports.allocate(instance.uuid)
        super()._allocate_ports(instance)

    def _port_taken(self, instance):
        LOG.info("A port of instance %s was taken before QEMU could listen on it; trying "
                 "other ports", instance.uuid)

    def _teardown(self, known):
        self._stop(known)

    def _stop(self, instance):
        """SIGTERM, then SIGKILL after [qemu] stop_timeout; returns once QEMU is gone."""
        if instance.process is not None:
            if instance.process.poll() is None:
                instance.process.terminate()
                try:
                    instance.process.wait(CONF.qemu.stop_timeout)
                except subprocess.TimeoutExpired:
                    LOG.warning("QEMU of instance %s ignored SIGTERM: killing it",
                                instance.uuid)
                    _kill(instance.process)
            return
        self._stop_pid(instance.pid, instance.uuid)

    @staticmethod
    def _stop_pid(pid, uuid):
        """Stop an adopted QEMU (not our child: it is watched through /proc)."""
        stat = _process_stat(pid) if pid else None
        if stat is None or not is_instance_process(pid, uuid):
            return  # already gone (its pid may be someone else's by now)
        start_time = stat[1]
        _signal(pid, uuid, signal.SIGTERM)
        if _wait_gone(pid, start_time, CONF.qemu.stop_timeout):
            return
        LOG.warning("QEMU process %d of instance %s ignored SIGTERM: killing it", pid, uuid)
        _signal(pid, uuid, signal.SIGKILL)
        if not _wait_gone(pid, start_time, _KILL_WAIT):
            raise exception.NovaConsoleException(
                "QEMU process %d of instance %s could not be stopped." % (pid, uuid))

    def _release_ports(self, instance):
        for allocator, attribute in ((self.vnc_ports, "vnc_port"),
                                     (self.spice_ports, "spice_port")):
            port = getattr(instance, attribute)
            if port is not None:
                allocator.release(port, instance.uuid)
            setattr(instance, attribute, None)
        super()._release_ports(instance)

    def _reset_guest(self, known):
        self._running(known)
        try:
            self._qmp(known, "system_reset")
        except _QMPError as exc:
            raise exception.NovaConsoleException(
                "Could not reset instance %s: %s" % (known.uuid, exc)) from exc

    # -- state ---------------------------------------------------------------------------

    def list_instances(self):
        with self._lock:
            instances = list(self._instances.values())
        for known in instances:
            if known.process is not None:
                known.process.poll()  # reap a QEMU that exited: no zombies
        return [known.uuid for known in instances]

    def get_power_state(self, instance):
        known = self._get(instance)
        if not known.is_running():
            return power_state.SHUTDOWN
        try:
            status = self._qmp(known, "query-status").get("status")
        except _QMPError as exc:
            # QEMU closes its control socket first when it exits.
            if known.exits_within(_EXIT_GRACE):
                return power_state.SHUTDOWN
            LOG.debug("No status from QEMU of instance %s: %s", known.uuid, exc)
            return power_state.RUNNING
        return _POWER_STATES.get(status, power_state.NOSTATE)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _console_logs(known):
        return [os.path.join(known.path, CONSOLE_LOG)]

    @staticmethod
    def _running(known):
        if not known.is_running():
            raise exception.InstanceNotRunning(instance_id=known.uuid)
        return known

    def _qmp(self, instance, command, arguments=None):
        """Run one QMP command on the instance's QEMU; its 'return' value."""
        with instance.qmp_lock:
            # Through /proc/self/fd: a socket path may not be longer than 107 bytes,
            # the instance directory's may.
            try:
                dir_fd = os.open(instance.path, os.O_RDONLY | os.O_DIRECTORY)
            except OSError as exc:
                raise _QMPError("cannot open %s: %s" % (instance.path, exc)) from exc
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(_QMP_TIMEOUT)
                sock.connect("/proc/self/fd/%d/%s" % (dir_fd, QMP_SOCKET))
                with sock.makefile("rb") as reader:
                    greeting = _qmp_message(reader)
                    while "event" in greeting:  # seen while QEMU is still starting
                        greeting = _qmp_message(reader)
                    if "QMP" not in greeting:
                        raise _QMPError("no QMP greeting: %r" % (greeting,))
                    _qmp_execute(sock, reader, {"execute": "qmp_capabilities"})
                    request = {"execute": command}
                    if arguments:
                        request["arguments"] = arguments
                    return _qmp_execute(sock, reader, request)
            except (OSError, ValueError) as exc:
                raise _QMPError("%s: %s" % (command, exc)) from exc
            finally:
                sock.close()
                os.close(dir_fd)


def _qmp_message(reader):
    line = reader.readline()
    if not line:
        raise _QMPError("QEMU closed its control socket")
    message = json.loads(line)
    if not isinstance(message, dict):
        raise _QMPError("unexpected QMP message %r" % (message,))
    return message


def _qmp_execute(sock, reader, request):
    sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
    while True:
        message = _qmp_message(reader)  # events may come first: skip them
        if "return" in message:
            return message["return"]
        if "error" in message:
            raise _QMPError("%s: %s" % (request["execute"],
                                        message["error"].get("desc", message["error"])))


def _kill(process):
    """SIGKILL a QEMU we started and reap it."""
    if process.poll() is None:
        try:
            process.kill()
        except ProcessLookupError:
            pass
    try:
        process.wait(_KILL_WAIT)
    except subprocess.TimeoutExpired:
        LOG.error("QEMU process %d survived SIGKILL for %g seconds", process.pid, _KILL_WAIT)
