"""Running a service: its RPC server, its periodic tasks, and a stop bounded in time.

A service stops within STOP_TIMEOUT of SIGTERM or SIGINT, every time: each step of
the stop waits only as long as it should (periodic tasks and requests in progress
are given a moment, then left behind), and a watchdog ends the process if a step
hangs all the same, as oslo.service does once its graceful_shutdown_timeout passed.
"""
import gc
import os
import signal
import threading
import time

from eventlet import patcher
import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console import rpc

LOG = logging.getLogger(__name__)

# Seconds between two looks at whether a stop signal arrived.
SIGNAL_POLL_INTERVAL = 0.2

# Seconds from noticing the stop signal to the end of the process, at most; beyond
# it the watchdog exits with status 1. Below the 5 s after which supervisors (and
# the functional tests) kill a service.
STOP_TIMEOUT = 4.0

# Seconds a stopping RPC server waits for the requests it is still handling (one
# may wait on a service that is stopping too), and a periodic task for its run.
IN_FLIGHT_GRACE = 2.0
PERIODIC_TASK_GRACE = 0.5

# A real OS thread whether or not the process is monkey-patched: the watchdog must
# fire even if the hub is stuck.
_os_threading = patcher.original("threading")


class PeriodicTask:
    """Calls `function` every `interval` seconds in its own thread until stopped.

    A failing run is logged and the next one happens on schedule: one database
    hiccup must not end heartbeats or purges for the life of the process.
    """

    def __init__(self, function, interval, run_immediately=True):
        self.function = function
        self.interval = interval
        self.run_immediately = run_immediately
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="periodic-%s" % function.__name__)

    def start(self):
        self._thread.start()

    def _run(self):
        if not self.run_immediately:
            self._stopped.wait(self.interval)
        while not self._stopped.is_set():
            try:
                self.function()
            except Exception:
                if self._stopped.is_set():  # the service stopped under it (RPC, DB)
                    LOG.debug("Periodic task %s ended by the stop", self.function.__name__)
                    return
                LOG.exception("Periodic task %s failed", self.function.__name__)
            self._stopped.wait(self.interval)

    def stop(self, timeout=PERIODIC_TASK_GRACE):
        """No further run; the run in progress, if any, gets `timeout` seconds to end
        (one blocked on a service that is gone is left behind: the thread is a daemon)."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)


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


def run_until_signalled(start, stop, stop_timeout=None):
    """Run start(), block until SIGTERM or SIGINT, then run stop() once. The process
    ends within stop_timeout (STOP_TIMEOUT) seconds of the signal, whatever stop()
    or the interpreter's exit do: a watchdog thread ends it otherwise."""
    caught = []

    def _on_signal(signum, _frame):
        # Only a list append: the handler may interrupt code that holds the logging
        # lock, or an Event's, and would wait for it forever.
        caught.append(signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    start()
    freeze_startup_objects()
    try:
        while not caught:
            time.sleep(SIGNAL_POLL_INTERVAL)
        _os_threading.Thread(target=_exit_after, args=(stop_timeout or STOP_TIMEOUT,),
                             daemon=True, name="stop-watchdog").start()
        LOG.info("Caught signal %s, stopping", signal.Signals(caught[0]).name)
    finally:
        stop()
