"""nova-console-compute: runs the instances of one host through its driver.

It answers console requests for them and reports their state to the API over
RPC; a compute host never holds database credentials.

States, as the API stores them (vm_state / task_state), and who moves them:

    create (API)          building / spawning
      build ok            active / None          power_state from the driver
      build failed        error / None           fault: the driver's message; nothing left
    reboot (API)          active / rebooting (SOFT) or rebooting_hard (HARD)
      reset done          active / None
      guest not running   stopped / None         power_state SHUTDOWN
      instance gone       error / None           fault: it vanished from the hypervisor
    delete (API)          <any> / deleting       (not over another delete)
      destroyed           deleted                (the row is soft-deleted)
    state sync (at start-up, then every sync_interval s; skips an instance while an
    operation on it runs here):
      guest stopped       active -> stopped      power_state SHUTDOWN or CRASHED
      guest runs again    stopped -> active
      built, unreported   building -> active     (not at start-up: its report was lost)
      instance gone       -> error               fault: it vanished from the hypervisor
      deleted in the API  destroyed here         (deleted while this host was down)
    start-up sync only, for what the restart interrupted:
      building/spawning   -> error               fault: the restart; what it left destroyed
      <any>/deleting      deleted                the delete is finished
      active/rebooting*   active (or stopped) / None

Every report that ends a task names the task it ends (expected_task_state), so a
report that comes too late (the server was deleted meanwhile) changes nothing. One
lock per instance keeps a build, a reboot, a delete and the sync of one instance
from overlapping.
"""
import contextlib
import re
import threading
import time

import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console.api import rpcapi as api_rpcapi
from nova_console import compute
from nova_console import conf as nc_conf
from nova_console import connect_info
from nova_console import console_types
from nova_console import context as nc_context
from nova_console import exception
from nova_console import utils
from nova_console.compute import power_state
from nova_console.compute import task_states
from nova_console.compute import vm_states

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

BINARY = "nova-console-compute"
# Power states of a guest that stopped by itself.
STOPPED_POWER_STATES = (power_state.SHUTDOWN, power_state.CRASHED)

# What a console request may fail with, as the API expects it (no traceback logged).
CONSOLE_ERRORS = (exception.InstanceNotFound, exception.InstanceNotReady,
                  exception.ConsoleTypeInvalid, exception.ConsoleTypeUnavailable,
                  exception.NotImplementedByDriver)

# Nova's default [DEFAULT] sync_power_state_interval; a negative interval disables the
# periodic sync (the one at start-up always runs).
DEFAULT_SYNC_POWER_STATE_INTERVAL = 600
# At start-up the API is asked what runs here for up to this many seconds (each try
# waiting this long for an answer) before the host serves requests.
STARTUP_SYNC_WAIT = 60
STARTUP_SYNC_ATTEMPT_TIMEOUT = 3


VANISHED_FAULT = ("Instance vanished from the hypervisor: compute host %s no longer "
                  "has it.")
BUILD_INTERRUPTED_FAULT = ("The compute service of host %s restarted before the build "
                           "finished.")

# Nova's console-output filter: control characters other than tab and newline (CR
# included, so CR LF line ends become LF), plus DEL and the C1 controls.
_CONSOLE_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _option(group_and_name, default=None):
    """The value of option (group, name); `default` when there is no such option."""
    if group_and_name is None:
        return default
    group, name = group_and_name
    return getattr(getattr(CONF, group), name)


def strip_control_characters(text):
    """Console output as the API shows it: no terminal control characters."""
    return _CONSOLE_CONTROL_CHARACTERS.sub("", text)


def tail_lines(text, count):
    """The last `count` lines of `text` (a final newline ends the last line, it does not
    start an empty one); all of it for None or a negative count, nothing for 0."""
    if count is None or count < 0:
        return text
    if count == 0:
        return ""
    start = len(text) - 1 if text.endswith("\n") else len(text)
    for _ in range(count):
        start = text.rfind("\n", 0, start)
        if start < 0:
            return text
    return text[start + 1:]


class InstanceLocks:
    """One lock per instance uuid (Nova: utils.synchronized(instance.uuid)); the lock of
    an instance nobody holds or waits for is forgotten."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks = {}  # uuid -> [lock, holders and waiters]

    @contextlib.contextmanager
    def hold(self, uuid, blocking=True):
        """Hold the lock of `uuid` for the with-block; yields False (without holding it)
        when `blocking` is False and someone else holds it."""
        with self._guard:
            entry = self._locks.setdefault(uuid, [threading.Lock(), 0])
            entry[1] += 1
        acquired = entry[0].acquire(blocking)
        try:
            yield acquired
        finally:
            if acquired:
                entry[0].release()
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[uuid]


class ComputeManager:
    target = messaging.Target(version="1.2")

    def __init__(self, host, driver, api=None,
                 sync_interval=DEFAULT_SYNC_POWER_STATE_INTERVAL):
        self.host = host
        self.driver = driver
        self.api = api or api_rpcapi.APIReportsAPI()
        self.sync_interval = sync_interval
        self.startup_synced = threading.Event()
        self._next_sync = 0.0
        self._locks = InstanceLocks()

    def init_host(self):
        """Let the driver re-adopt what still runs, then settle with the API what a
        restart interrupted, before this host serves any request (as Nova does).

        The API may not be up yet: it is asked for up to STARTUP_SYNC_WAIT seconds,
        then sync_instances() keeps asking while the host serves.
        """
        self.driver.init_host(self.host)
        deadline = time.monotonic() + STARTUP_SYNC_WAIT
        while not self._sync(startup=True, timeout=STARTUP_SYNC_ATTEMPT_TIMEOUT):
            if time.monotonic() >= deadline:
                LOG.warning("The API did not answer for %d s: instance states of %s will be "
                            "synced once it does", STARTUP_SYNC_WAIT, self.host)
                return

    def cleanup_host(self):
        self.driver.cleanup_host(self.host)

    def report_heartbeat(self):
        """Periodic task: tell the API this host is up, and which driver it runs (the
        hypervisor_type of os-hypervisors)."""
        self.api.service_heartbeat(None, host=self.host, binary=BINARY, topic=compute.TOPIC,
                                   hypervisor_type=self.hypervisor_type)

    @property
    def hypervisor_type(self):
        """The driver's own hypervisor_type if it declares one, else the
        [DEFAULT] compute_driver name it was loaded by ("fake", "qemu", "libvirt")."""
        return self.driver.hypervisor_type or CONF.compute_driver

    def _report(self, context, instance, expected_task_state=None, **values):
        """Send a state report; True/False whether it was stored (None: not known)."""
        return self.api.instance_update(context, instance_uuid=instance["uuid"],
                                        values=values,
                                        expected_task_state=expected_task_state)

    # --- lifecycle ----------------------------------------------------------------------

    def build_and_run_instance(self, context, instance):
        uuid = instance["uuid"]
        with self._locks.hold(uuid):
            if uuid in self.driver.list_instances():
                LOG.info("Instance %s already runs here: reporting it", uuid)
            else:
                LOG.info("Building instance %s (%s)", uuid, instance.get("name"))
                try:
                    self.driver.spawn(instance)
                except Exception as exc:
                    _log_failure(exc, "Build of instance %s failed", uuid)
                    self._destroy_quietly(instance)
                    self._report(context, instance, expected_task_state=(task_states.SPAWNING,),
                                 vm_state=vm_states.ERROR, task_state=None,
                                 power_state=power_state.NOSTATE, fault=_describe(exc))
                    return
            stored = self._report(context, instance, expected_task_state=(task_states.SPAWNING,),
                                  vm_state=vm_states.ACTIVE, task_state=None,
                                  power_state=self._power_state(instance))
            if stored is False:
                # Deleted (or given up on) while it was being built: nobody wants it.
                LOG.info("Instance %s was deleted or given up on during its build: "
                         "destroying it", uuid)
                self._destroy_quietly(instance)

    def terminate_instance(self, context, instance):
        with self._locks.hold(instance["uuid"]):
            self._terminate(context, instance)

    def _terminate(self, context, instance):
        LOG.info("Terminating instance %s", instance["uuid"])
        try:
            self.driver.destroy(instance)  # an instance the driver does not have: no-op
        except Exception as exc:
            _log_failure(exc, "Destroy of instance %s failed", instance["uuid"])
            self._report(context, instance, expected_task_state=(task_states.DELETING,),
                         vm_state=vm_states.ERROR, task_state=None, fault=_describe(exc))
            return
        self._report(context, instance, vm_state=vm_states.DELETED, task_state=None,
                     power_state=power_state.NOSTATE)

    def reboot_instance(self, context, instance, reboot_type="HARD"):
        """A hard reset whatever `reboot_type` says: the driver contract has no soft
        reboot (Nova's libvirt driver falls back to a hard one when a soft one fails)."""
        uuid = instance["uuid"]
        with self._locks.hold(uuid):
            LOG.info("Rebooting instance %s (%s requested)", uuid, reboot_type)
            try:
                self.driver.reboot(instance)
            except exception.InstanceNotFound:
                LOG.warning("Instance %s vanished from the hypervisor", uuid)
                self._report(context, instance,
                             expected_task_state=task_states.REBOOT_TASK_STATES,
                             vm_state=vm_states.ERROR, task_state=None,
                             power_state=power_state.NOSTATE, fault=VANISHED_FAULT % self.host)
            except exception.InstanceNotRunning:
                LOG.warning("Instance %s cannot reboot: its guest does not run", uuid)
                self._report(context, instance,
                             expected_task_state=task_states.REBOOT_TASK_STATES,
                             vm_state=vm_states.STOPPED, task_state=None,
                             power_state=self._power_state(instance))
            except exception.NotImplementedByDriver as exc:
                LOG.warning("Instance %s not rebooted: %s", uuid, exc.message)
                self._report(context, instance,
                             expected_task_state=task_states.REBOOT_TASK_STATES,
                             task_state=None)
            except Exception as exc:
                _log_failure(exc, "Reboot of instance %s failed", uuid)
                self._report(context, instance,
                             expected_task_state=task_states.REBOOT_TASK_STATES,
                             vm_state=vm_states.ERROR, task_state=None,
                             power_state=self._power_state(instance), fault=_describe(exc))
            else:
                self._report(context, instance,
                             expected_task_state=task_states.REBOOT_TASK_STATES,
                             vm_state=vm_states.ACTIVE, task_state=None,
                             power_state=self._power_state(instance))

    def _destroy_quietly(self, instance):
        try:
            self.driver.destroy(instance)
        except Exception:
            LOG.exception("Clean-up of instance %s failed", instance["uuid"])

    def _power_state(self, instance):
        """The driver's power state of the instance, for a report that must go out:
        NOSTATE if the driver does not have it or cannot tell."""
        try:
            return self.driver.get_power_state(instance)
        except exception.InstanceNotFound:
            return power_state.NOSTATE
        except Exception as exc:
            _log_failure(exc, "No power state for instance %s", instance["uuid"])
            return power_state.NOSTATE

    def _driver_power_state(self, instance):
        """The driver's power state of the instance; None if it does not have it."""
        try:
            return self.driver.get_power_state(instance)
        except exception.InstanceNotFound:
            return None

    # --- state sync ---------------------------------------------------------------------

    def sync_instances(self):
        """Periodic task: compare what the driver has with what the API believes runs on
        this host, and report the differences (Nova's _sync_power_states), every
        `sync_interval` seconds; until the start-up sync is done, that one."""
        if not self.startup_synced.is_set():
            self._sync(startup=True)
        elif self.sync_interval >= 0 and time.monotonic() >= self._next_sync:
            self._sync(startup=False)

    def _sync(self, startup, timeout=None):
        """One sync; False if the API did not answer.

        At start-up it also settles what the restart interrupted: builds (-> error),
        deletes (finished) and reboots (task cleared).
        """
        ctxt = nc_context.get_admin_context()
        # The driver first: an instance it has was created in the API before it was
        # built here, so the API's answer (given later) knows it unless it was deleted.
        driver_uuids = set(self.driver.list_instances())
        try:
            views = self.api.get_instances_on_host(ctxt, self.host, uuids=sorted(driver_uuids),
                                                   timeout=timeout)
        except messaging.MessagingTimeout:
            LOG.warning("The API did not answer which instances run on %s; will retry",
                        self.host)
            return False
        if views is None:
            LOG.warning("The API service is too old to sync instance states (RPC 1.1 "
                        "needed): they are not checked")
            self.startup_synced.set()
            self.sync_interval = -1
            return True
        on_host = {view["uuid"]: view for view in views
                   if view["host"] == self.host and view["vm_state"] != vm_states.DELETED}
        for view in on_host.values():
            try:
                self._sync_instance(ctxt, view, startup)
            except Exception:
                LOG.exception("State sync of instance %s failed", view["uuid"])
        others = {view["uuid"]: view for view in views if view["uuid"] not in on_host}
        for uuid in sorted(driver_uuids - set(on_host)):
            self._sync_unlisted(uuid, others.get(uuid))
        self._next_sync = time.monotonic() + max(self.sync_interval, 0)
        if startup:
            self.startup_synced.set()
            LOG.info("Instance states of %s synced with the API: %d instance(s) in the API, "
                     "%d in the driver", self.host, len(on_host), len(driver_uuids))
        return True

    def _sync_instance(self, ctxt, view, startup):
        with self._locks.hold(view["uuid"], blocking=False) as free:
            if not free:
                return  # a build, reboot or delete of it runs: it reports for itself
            task_state = view["task_state"]
            if task_state == task_states.DELETING:
                if startup:  # the delete this restart interrupted, or one still queued
                    self._terminate(ctxt, view)
            elif task_state == task_states.SPAWNING or view["vm_state"] == vm_states.BUILDING:
                self._sync_build(ctxt, view, startup)
            elif task_state in task_states.REBOOT_TASK_STATES:
                if startup:
                    self._sync_power_state(ctxt, view, expected=task_states.REBOOT_TASK_STATES)
            elif task_state is None:
                self._sync_power_state(ctxt, view, expected=(None,))

    def _sync_build(self, ctxt, view, startup):
        power = self._driver_power_state(view)
        if startup:
            # As Nova: a build this restart interrupted failed. (A build request still
            # queued for this host finds the instance in error, and destroys what it
            # built.)
            LOG.warning("Instance %s was being built when the service stopped: it goes to "
                        "error", view["uuid"])
            if power is not None:
                self._destroy_quietly(view)
            self._report(ctxt, view, expected_task_state=(task_states.SPAWNING,),
                         vm_state=vm_states.ERROR, task_state=None,
                         power_state=power_state.NOSTATE,
                         fault=BUILD_INTERRUPTED_FAULT % self.host)
        elif power is not None:
            # Built, but the report was lost (the API did not answer): report it again.
            self._report(ctxt, view, expected_task_state=(task_states.SPAWNING,),
                         vm_state=vm_states.ACTIVE, task_state=None, power_state=power)

    def _sync_power_state(self, ctxt, view, expected):
        power = self._driver_power_state(view)
        values = {}
        if power is None:
            if view["vm_state"] != vm_states.ERROR:
                LOG.warning("Instance %s vanished from the hypervisor", view["uuid"])
                values.update(vm_state=vm_states.ERROR, fault=VANISHED_FAULT % self.host)
            power = power_state.NOSTATE
        elif view["vm_state"] == vm_states.ACTIVE and power in STOPPED_POWER_STATES:
            LOG.warning("Instance %s stopped by itself (power state %d)", view["uuid"],
                        power)
            values["vm_state"] = vm_states.STOPPED
        elif view["vm_state"] == vm_states.STOPPED and power == power_state.RUNNING:
            values["vm_state"] = vm_states.ACTIVE
        elif view["vm_state"] not in (vm_states.ACTIVE, vm_states.STOPPED, vm_states.ERROR):
            values["vm_state"] = (vm_states.ACTIVE if power == power_state.RUNNING
                                  else vm_states.STOPPED)
        if power != view["power_state"]:
            values["power_state"] = power
        if view["task_state"] is not None:
            values["task_state"] = None
        if values:
            self._report(ctxt, view, expected_task_state=expected, **values)

    def _sync_unlisted(self, uuid, view):
        """An instance the driver has and the API does not list on this host."""
        if view is None:
            LOG.warning("Instance %s runs on this host but the API does not know it: left "
                        "alone", uuid)
        elif view["vm_state"] == vm_states.DELETED:
            with self._locks.hold(uuid, blocking=False) as free:
                if free:
                    LOG.info("Destroying instance %s: it was deleted while this host could "
                             "not do it", uuid)
                    self._destroy_quietly(view)
        else:
            LOG.warning("Instance %s runs on this host but the API has it on host %s: left "
                        "alone", uuid, view["host"])

    # --- consoles -----------------------------------------------------------------------

    @messaging.expected_exceptions(*CONSOLE_ERRORS)
    def get_vnc_console(self, context, instance, console_type):
        """Connection details and a fresh token for the instance's VNC console."""
        return self._get_console(instance, console_type, "vnc")

    @messaging.expected_exceptions(*CONSOLE_ERRORS)
    def get_spice_console(self, context, instance, console_type):
        """The same for its SPICE console (spice-html5 or spice-direct)."""
        return self._get_console(instance, console_type, "spice")

    @messaging.expected_exceptions(*CONSOLE_ERRORS)
    def get_serial_console(self, context, instance, console_type):
        """The same for its serial console."""
        return self._get_console(instance, console_type, "serial")

    @messaging.expected_exceptions(*CONSOLE_ERRORS)
    def get_mks_console(self, context, instance, console_type):
        """The same for its MKS console."""
        return self._get_console(instance, console_type, "mks")

    def _get_console(self, instance, console_type, protocol):
        """The ConnectInfo (as a primitive) of the instance's console of `console_type`,
        one of `protocol`'s (console_types.py says how each is found and reached)."""
        kind = console_types.get(console_type)
        if kind is None or kind.protocol != protocol:
            raise exception.ConsoleTypeInvalid(console_type=console_type)
        if not _option(kind.enabled_option, True):
            raise exception.ConsoleTypeUnavailable(
                "Unavailable console type %s: it is turned off on compute host %s ([%s] "
                "%s)." % (console_type, self.host, *kind.enabled_option),
                console_type=console_type)
        try:
            endpoint = getattr(self.driver, kind.rpc_method)(instance)
        except exception.NotImplementedByDriver as exc:
            # The type exists but this instance's host cannot serve it: the user asked
            # for something unavailable here (400), as when it is turned off.
            raise exception.ConsoleTypeUnavailable(
                "Unavailable console type %s: %s" % (console_type, exc.message),
                console_type=console_type) from None
        token = utils.generate_token()
        access_url_base = _option(kind.base_url_option)
        return connect_info.ConnectInfo(
            console_type=console_type, host=endpoint.host, port=endpoint.port,
            tls_port=endpoint.tls_port, internal_access_path=endpoint.internal_access_path,
            instance_uuid=instance["uuid"], access_url_base=access_url_base, token=token,
            access_url=kind.url(access_url_base, token)).to_primitive()

    def validate_console_port(self, context, instance, port, console_type):
        """True only if `port` is, right now, the console of this instance (and that
        console type still on)."""
        kind = console_types.get(console_type)
        if kind is None or not _option(kind.enabled_option, True):
            return False
        try:
            endpoint = getattr(self.driver, kind.rpc_method)(instance)
        except (exception.InstanceNotFound, exception.InstanceNotReady,
                exception.NotImplementedByDriver, exception.ConsoleTypeUnavailable):
            return False
        return endpoint.port == int(port)

    @messaging.expected_exceptions(exception.InstanceNotFound, exception.NotImplementedByDriver)
    def get_console_output(self, context, instance, tail_length=None):
        """The last `tail_length` lines (all: None) of the guest's serial output, without
        control characters."""
        output = self.driver.get_console_output(instance)
        tail_length = None if tail_length is None else int(tail_length)
        return strip_control_characters(tail_lines(output, tail_length))


def _describe(exc):
    if isinstance(exc, exception.NovaConsoleException):
        return exc.message
    return "%s: %s" % (exc.__class__.__name__, exc)


def _log_failure(exc, message, *args):
    """An expected failure (a NovaConsoleException, whose message says it all) in one
    line; anything else with its traceback."""
    if isinstance(exc, exception.NovaConsoleException):
        LOG.error(message + ": %s", *args, exc.message)
    else:
        LOG.exception(message, *args)
