"""service.run_until_signalled: how every service process runs, and stops."""
import logging
import subprocess
import sys
import textwrap
import threading
import time

import oslo_messaging as messaging

from nova_console import context
from nova_console import rpc
from nova_console import service


def test_a_started_service_freezes_its_objects_and_stops_on_sigterm():
    """Objects made at start leave the garbage collector's generations (no full
    collection walks them again), and SIGTERM runs stop() once."""
    program = textwrap.dedent("""
        import gc, os, signal, threading
        from nova_console import service
        held = []

        def start():
            held.extend({"option": i} for i in range(10000))
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

        def stop():
            print("frozen", gc.get_freeze_count(), "stopped", flush=True)

        service.run_until_signalled(start, stop)
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == "frozen" and int(words[1]) > 10000 and words[2] == "stopped"


def test_a_service_whose_stop_hangs_still_ends_within_its_stop_timeout():
    """The watchdog: whatever blocks the stop (a join, a transport cleanup), the
    process is gone within the stop timeout of the signal, with status 1 and a line
    on stderr saying why."""
    program = textwrap.dedent("""
        import os, signal, threading, time
        from nova_console import service

        def start():
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

        def stop():
            time.sleep(60)

        service.run_until_signalled(start, stop, stop_timeout=1.0)
    """)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    assert "did not stop within 1.0 s of the stop signal" in result.stderr


def test_rpc_service_stop_leaves_a_request_that_never_ends_behind(fake_transport, caplog):
    """A request in progress gets IN_FLIGHT_GRACE seconds (it may wait on a service that
    is stopping too), not forever."""
    release = threading.Event()
    arrived = threading.Event()

    class Endpoint:
        target = messaging.Target(version="1.0")

        def hang(self, ctxt):
            arrived.set()
            release.wait(30)

    rpc_service = service.RPCService("hang-topic", "h-1", [Endpoint()])
    rpc_service.start()
    client = rpc.get_client(messaging.Target(topic="hang-topic", version="1.0"))
    client.prepare().cast(context.get_admin_context(), "hang")
    assert arrived.wait(10)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        rpc_service.stop()
    stopped_in = time.monotonic() - started
    release.set()
    assert stopped_in < service.IN_FLIGHT_GRACE + 2
    assert "requests still in progress" in caplog.text


def test_periodic_task_stop_does_not_wait_for_a_run_blocked_on_a_gone_service():
    running = threading.Event()
    release = threading.Event()

    def blocked():
        running.set()
        release.wait(30)

    task = service.PeriodicTask(blocked, interval=60)
    task.start()
    assert running.wait(10)
    started = time.monotonic()
    task.stop(timeout=0.2)
    assert time.monotonic() - started < 2
    release.set()
