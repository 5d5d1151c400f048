"""Running a service process on oslo.service: its launcher, its signals, its periodic
tasks, and a stop bounded in time.

Every console script builds a Service (what to start, stop and reload) and hands it
to run(), which runs it on oslo.service's launcher, as every OpenStack service runs:

* SIGTERM (and SIGINT: Ctrl-C of the all-in-one must delete its servers) stops the
  service; the process ends within STOP_TIMEOUT of the signal, every time: each step
  of the stop waits only as long as it should (periodic tasks and requests in
  progress are given a moment, then left behind), and a watchdog ends the process if
  a step hangs all the same.
* SIGHUP (logrotate, `systemctl reload`) re-reads the configuration files and applies
  the options marked mutable (oslo.config's mutate: debug, log_config_append, the
  proxies' TLS certificate and limits...), reopens log files, and keeps every
  connection and console session open.
* With workers > 1 (the console proxies) oslo.service's ProcessLauncher forks the
  workers after the listening socket is open; each exits as soon as its parent is
  gone, whatever killed the parent.
* systemd (Type=notify) hears READY=1 once the service has started.
"""
import gc
import logging as std_logging
import os
import signal
import threading

from eventlet import patcher
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_service import _options as oslo_service_options
from oslo_service import loopingcall
from oslo_service import service as oslo_service
from oslo_service import systemd

from nova_console import conf as nc_conf
from nova_console import rpc

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

# Seconds from the stop signal to the end of the process, at most; beyond it the
# watchdog exits with status 1. Below the 5 s after which supervisors (and the
# functional tests) kill a service.
STOP_TIMEOUT = 4.0

# Seconds between two wake-ups of an idle process' hub, at most: the delay before a
# signal (SIGTERM, SIGHUP) is acted upon.
SIGNAL_WAKE_INTERVAL = 0.2

# oslo.service's own bound on a graceful stop ([DEFAULT] graceful_shutdown_timeout),
# by default: past the watchdog's, so the watchdog, which says why, fires first.
GRACEFUL_SHUTDOWN_TIMEOUT = 5

# Seconds a stopping RPC server waits for the requests it is still handling (one
# may wait on a service that is stopping too), and a periodic task for its run.
IN_FLIGHT_GRACE = 2.0
PERIODIC_TASK_GRACE = 0.5



def set_service_defaults():
    """Our defaults of oslo.service's options, on its own option objects (it has no
    public setter; its list_opts() copies them): what every service runs with, and,
    as the oslo.config.opts.defaults hook of our namespace, what the sample config
    shows."""
    cfg.set_defaults(oslo_service_options.service_opts,
                     graceful_shutdown_timeout=GRACEFUL_SHUTDOWN_TIMEOUT)


# oslo.service's options ([DEFAULT] graceful_shutdown_timeout, log_options...), known
# before the command line and the config files are parsed.
set_service_defaults()
CONF.register_opts(oslo_service_options.service_opts)

# A real OS thread whether or not the process is monkey-patched: the watchdog must
# fire even if the hub is stuck.
_os_threading = patcher.original("threading")


class PeriodicTask:
    """Calls `function` every `interval` seconds (oslo.service's fixed-interval looping
    call) until stopped.

    A failing run is logged and the next one happens on schedule: one database
    hiccup must not end heartbeats or purges for the life of the process.
    """

    def __init__(self, function, interval, run_immediately=True):
        self.function = function
        self.interval = interval
        self.run_immediately = run_immediately
        self._stopping = False
        self._call = loopingcall.FixedIntervalLoopingCall(self._run_once)

    def start(self):
        self._call.start(self.interval, stop_on_exception=False,
                         initial_delay=0 if self.run_immediately else self.interval)

    def _run_once(self):
        try:
            self.function()
        except Exception:
            if self._stopping:  # the service stopped under it (RPC, DB)
                LOG.debug("Periodic task %s ended by the stop", self.function.__name__)
                return
            LOG.exception("Periodic task %s failed", self.function.__name__)

    def stop(self, timeout=PERIODIC_TASK_GRACE):
        """No further run; the run in progress, if any, gets `timeout` seconds to end
        (one blocked on a service that is gone is left behind)."""
        self._stopping = True
        if self._call.done is None:  # never started (the service failed to start)
            return
        self._call.stop()
        run_bounded(self._call.wait, timeout)


def run_bounded(function, timeout):
    """Run function() in a daemon thread for at most `timeout` seconds; True if it
    returned by then (its exception, if any, is logged), False if it still runs."""
    done = threading.Event()

    def run():
        try:
            function()
        except Exception:
            LOG.exception("%s failed", getattr(function, "__qualname__", function))
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="bounded-stop-step").start()
    return done.wait(timeout)


class RPCService:
    """An RPC endpoint on `topic` (and `server`), plus periodic tasks."""

    def __init__(self, topic, server, endpoints, periodic_tasks=()):
        self.topic = topic
        self.server = server
        self.endpoints = endpoints
        self.periodic_tasks = list(periodic_tasks)
        self._rpc_server = None

    def start(self):
        target = messaging.Target(topic=self.topic, server=self.server)
        self._rpc_server = rpc.get_server(target, self.endpoints)
        self._rpc_server.start()
        for task in self.periodic_tasks:
            task.start()
        LOG.info("Serving RPC topic %s as %s", self.topic, self.server)

    def stop(self):
        """Take no new request; give those in progress IN_FLIGHT_GRACE seconds."""
        for task in self.periodic_tasks:
            task.stop()
        if self._rpc_server is not None:
            self._rpc_server.stop()
            if not run_bounded(self._rpc_server.wait, IN_FLIGHT_GRACE):
                LOG.warning("RPC topic %s: requests still in progress %.0f s after the stop "
                            "are abandoned", self.topic, IN_FLIGHT_GRACE)
            self._rpc_server = None
        LOG.info("Stopped RPC topic %s", self.topic)


def _fresh_log_handler_locks():
    """In a forked child: a lock of its own for every log handler.

    Under eventlet, oslo.log's handler locks are pipes (oslo_log.pipe_mutex), which a
    fork shares with the parent: a parent killed while it writes a log line (SIGKILL,
    the OOM killer) never gives the lock back, and every worker then hangs at its next
    log line, still holding the listening socket (seen: proxy workers that outlived
    their parent, served nothing and never exited)."""
    loggers = [std_logging.getLogger()] + [
        logger for logger in std_logging.Logger.manager.loggerDict.values()
        if isinstance(logger, std_logging.Logger)]
    handlers = {id(handler): handler for logger in loggers for handler in logger.handlers}
    for handler in handlers.values():
        inherited = handler.lock
        handler.createLock()
        close = getattr(inherited, "close", None)
        if close is not None:
            close()


os.register_at_fork(after_in_child=_fresh_log_handler_locks)


def freeze_startup_objects():
    """Keep the garbage collector off the objects a started service holds for good
    (modules, options, clients, drivers): they are never garbage, and walking them
    in every full collection paused a process for tens of milliseconds, which every
    request in flight then waited for."""
    gc.collect()
    gc.freeze()


def _exit_after(timeout):
    """The watchdog: end the process with status 1 in `timeout` seconds, unless it
    ended by then. It writes to stderr itself: the logging lock may be held by
    whatever hangs."""
    _os_threading.Event().wait(timeout)
    os.write(2, b"nova_console: the service did not stop within %.1f s of the stop "
                b"signal: exiting now\n" % timeout)
    os._exit(1)


def reopen_log_files():
    """Close every log file of the root logger's handlers (oslo.log's, or those of a
    log_config_append file): the next line opens its path again, so after logrotate
    moved a file, logging goes on in the new one."""
    for handler in std_logging.getLogger().handlers:
        if not isinstance(handler, std_logging.FileHandler):
            continue
        handler.acquire()
        try:
            stream, handler.stream = handler.stream, None  # emit() reopens it
            if stream is not None:
                stream.close()
        finally:
            handler.release()


class Service(oslo_service.ServiceBase):
    """One process' service as oslo.service's launchers run it.

    start() runs `start` and tells systemd the service is ready; stop() runs `stop`
    once, under the watchdog; reset() (SIGHUP, after the launcher applied the mutable
    options) reopens the log files and runs `reload`, if any, so that the service
    applies the new values of the options it copied at start (a proxy's TLS
    certificate). With workers, start, stop and reload run in every worker.
    """

    def __init__(self, name, start, stop, reload=None, stop_timeout=STOP_TIMEOUT):
        self.name = name
        self._start = start
        self._stop = stop
        self._reload = reload
        self.stop_timeout = stop_timeout
        self.notify_socket = None   # set by run(): where READY=1 goes, if anywhere
        self.supervisor_pid = None  # set by run(): the process that only supervises workers
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._stop_begun = False

    def start(self):
        self._start()
        freeze_startup_objects()
        LOG.info("%s started (pid %d)", self.name, os.getpid())
        if self.notify_socket:
            os.environ["NOTIFY_SOCKET"] = self.notify_socket
            systemd.notify_once()   # sends READY=1 and forgets the socket

    def _in_supervisor(self):
        """True in the parent of workers: oslo.service calls stop() and reset() on its
        copy too, which serves nothing (its workers get the signal)."""
        return os.getpid() == self.supervisor_pid

    def stop(self, graceful=False):
        if self._in_supervisor():
            self._stopped.set()
            return
        with self._stop_lock:
            if self._stop_begun:
                return
            self._stop_begun = True
        _os_threading.Thread(target=_exit_after, args=(self.stop_timeout,), daemon=True,
                             name="stop-watchdog").start()
        LOG.info("%s stopping", self.name)
        try:
            self._stop()
        finally:
            self._stopped.set()

    def wait(self):
        # Woken at least every SIGNAL_WAKE_INTERVAL: oslo.service handles a signal on
        # the hub, and a hub with nothing scheduled sleeps up to 60 s before it looks.
        while not self._stopped.wait(SIGNAL_WAKE_INTERVAL):
            pass

    def reset(self):
        reopen_log_files()
        if self._in_supervisor():
            return
        if self._reload is not None:
            self._reload()
        LOG.info("%s reloaded its configuration (SIGHUP)", self.name)


class ServiceLauncher(oslo_service.ServiceLauncher):
    """oslo.service's, but SIGINT stops the service as SIGTERM does (oslo.service exits
    at once on it): Ctrl-C of the all-in-one must still destroy its servers, and the
    watchdog bounds any stop anyway."""

    def _fast_exit(self, *args):
        self._graceful_shutdown(*args)


class ProcessLauncher(oslo_service.ProcessLauncher):
    """oslo.service's, with SIGINT as SIGTERM (see ServiceLauncher)."""

    def _fast_exit(self, signo, frame):
        if self.launcher is not None:  # a worker: stop, as on SIGTERM
            # Ctrl-C reaches the parent too, whose SIGTERM follows at once: it must
            # not cut this stop short (the watchdog still bounds it).
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self.launcher.stop()
        else:
            self._handle_term(signo, frame)


def run(service, workers=1):
    """Run `service` until SIGTERM or SIGINT, in this process (workers=1) or in
    `workers` forked worker processes supervised by this one; applies SIGHUP. The
    exit status: 0, or 1 if the service failed to start."""
    # READY=1 once the service has started: oslo.service's launchers would send it
    # before, from wait(). A supervisor of workers is ready when its listening socket
    # is open (before the fork), which is when its launcher says it.
    notify_socket = os.environ.pop("NOTIFY_SOCKET", None)
    if workers > 1:
        launcher = ProcessLauncher(CONF, restart_method="mutate")
        launcher.launch_service(service, workers=workers)  # forks the workers
        service.supervisor_pid = os.getpid()
        if notify_socket:
            os.environ["NOTIFY_SOCKET"] = notify_socket
    else:
        service.notify_socket = notify_socket
        launcher = ServiceLauncher(CONF, restart_method="mutate")
        launcher.launch_service(service)
    return launcher.wait() or 0
