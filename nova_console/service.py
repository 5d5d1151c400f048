"""Running a service: its RPC server, its periodic tasks, and a clean stop."""
import gc
import signal
import threading
import time

import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console import rpc

LOG = logging.getLogger(__name__)

# Seconds between two looks at whether a stop signal arrived.
SIGNAL_POLL_INTERVAL = 0.2


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
                LOG.exception("Periodic task %s failed", self.function.__name__)
            self._stopped.wait(self.interval)

    def stop(self):
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


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
        for task in self.periodic_tasks:
            task.stop()
        if self._rpc_server is not None:
            self._rpc_server.stop()
            self._rpc_server.wait()
            self._rpc_server = None
        LOG.info("Stopped RPC topic %s", self.topic)


def freeze_startup_objects():
    """Keep the garbage collector off the objects a started service holds for good
    (modules, options, clients, drivers): they are never garbage, and walking them
    in every full collection paused a process for tens of milliseconds, which every
    request in flight then waited for."""
    gc.collect()
    gc.freeze()


def run_until_signalled(start, stop):
    """Run start(), block until SIGTERM or SIGINT, then run stop() once."""
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
        LOG.info("Caught signal %s, stopping", signal.Signals(caught[0]).name)
    finally:
        stop()
