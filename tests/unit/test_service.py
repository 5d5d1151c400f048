"""service.py: how every service process runs on oslo.service, reloads and stops.

The process-level behaviours (signals, the watchdog, systemd's READY) run in a
monkey-patched child process, as the console scripts do."""
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import oslo_messaging as messaging
import pytest

from nova_console import context
from nova_console import rpc
from nova_console import service

# Seconds a child process may take, at most, to do what a test asks (a bound).
CHILD_TIMEOUT = 60

PATCHED_PRELUDE = """
import nova_console.cmd  # monkey-patches, as every console script
import gc, os, signal, sys, threading, time
from nova_console import config, service
config.parse_args(["test-service"])

def signal_me(signum, delay=0.2):
    threading.Timer(delay, os.kill, (os.getpid(), signum)).start()
"""


def said(stdout):
    """The words the child printed with print("@ ..."), apart from its log lines."""
    return [word for line in stdout.splitlines() if line.startswith("@ ")
            for word in line[2:].split()]


def run_program(body, env=None):
    program = PATCHED_PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, env=env)


def test_a_started_service_freezes_its_objects_and_stops_on_sigterm():
    """Objects made at start leave the garbage collector's generations (no full
    collection walks them again), and SIGTERM runs stop() once."""
    result = run_program("""
        held = []

        def start():
            held.extend({"option": i} for i in range(10000))
            signal_me(signal.SIGTERM)

        def stop():
            print("@ frozen", gc.get_freeze_count(), "stopped", flush=True)

        service.run(service.Service("test", start, stop))
    """)
    assert result.returncode == 0, result.stderr
    words = said(result.stdout)
    assert words == ["frozen", words[1], "stopped"] and int(words[1]) > 10000


def test_sigint_stops_the_service_as_sigterm_does():
    """Ctrl-C runs the stop (the all-in-one deletes its servers there) instead of
    oslo.service's immediate exit."""
    result = run_program("""
        service.run(service.Service("test", lambda: signal_me(signal.SIGINT),
                                    lambda: print("@ stopped", flush=True)))
    """)
    assert result.returncode == 0, result.stderr
    assert said(result.stdout) == ["stopped"]


def test_sighup_reloads_the_service_and_keeps_it_running():
    """SIGHUP applies the mutable options (here [DEFAULT] debug, from the file) and
    calls the service's reload; the service goes on until SIGTERM."""
    result = run_program("""
        import tempfile
        from nova_console import conf
        path = tempfile.mktemp(suffix=".conf")
        with open(path, "w") as f:
            f.write("[DEFAULT]\\ndebug = False\\n")
        config.parse_args(["test-service", "--config-file", path])
        alive = []

        def beat():
            while True:
                alive.append(time.monotonic())
                time.sleep(0.05)

        def start():
            threading.Thread(target=beat, daemon=True).start()
            with open(path, "w") as f:
                f.write("[DEFAULT]\\ndebug = True\\n")
            signal_me(signal.SIGHUP)

        def reload():
            print("@ reloaded debug=%s" % conf.CONF.debug, flush=True)
            signal_me(signal.SIGTERM, delay=0.3)

        def stop():
            print("@ stopped beating=%s" % (time.monotonic() - alive[-1] < 1), flush=True)

        service.run(service.Service("test", start, stop, reload=reload))
    """)
    assert result.returncode == 0, result.stderr
    assert said(result.stdout) == ["reloaded", "debug=True", "stopped", "beating=True"]


def test_a_service_whose_stop_hangs_still_ends_within_its_stop_timeout():
    """The watchdog: whatever blocks the stop (a join, a transport cleanup), the
    process is gone within the stop timeout of the signal, with status 1 and a line
    on stderr saying why."""
    started = time.monotonic()
    result = run_program("""
        service.run(service.Service("test", lambda: signal_me(signal.SIGTERM),
                                    lambda: time.sleep(60), stop_timeout=1.0))
    """)
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    assert "did not stop within 1.0 s of the stop signal" in result.stderr


def test_systemd_hears_ready_only_once_the_service_has_started(tmp_path):
    """Type=notify: READY=1 goes to $NOTIFY_SOCKET after start() returned, once."""
    address = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(CHILD_TIMEOUT)
    marker = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", PATCHED_PRELUDE + textwrap.dedent("""
        def start():
            time.sleep(0.3)
            open(%r, "w").close()

        service.run(service.Service("test", start, lambda: None))
    """ % str(marker))], env=dict(os.environ, NOTIFY_SOCKET=address),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        message = listener.recv(1024)
        started_before_ready = marker.exists()
        child.terminate()
        _, stderr = child.communicate(timeout=CHILD_TIMEOUT)
    finally:
        child.kill()
        listener.close()
    assert message == b"READY=1"
    assert started_before_ready
    assert child.returncode == 0, stderr


def test_periodic_task_runs_on_schedule_through_failures():
    result = run_program("""
        runs = []

        def flaky():
            runs.append(1)
            if len(runs) == 1:
                raise RuntimeError("database hiccup")

        task = service.PeriodicTask(flaky, interval=0.05)
        task.start()
        deadline = time.monotonic() + 30
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        task.stop()
        print("@ runs", len(runs) >= 3, flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert said(result.stdout) == ["runs", "True"]
    assert "Periodic task flaky failed" in result.stdout


def test_periodic_task_stop_does_not_wait_for_a_run_blocked_on_a_gone_service():
    result = run_program("""
        running = threading.Event()

        def blocked():
            running.set()
            time.sleep(30)

        task = service.PeriodicTask(blocked, interval=60)
        task.start()
        assert running.wait(30)
        started = time.monotonic()
        task.stop(timeout=0.2)
        print("@ stopped_in_time", time.monotonic() - started < 2, flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert said(result.stdout) == ["stopped_in_time", "True"]


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


def test_a_forked_worker_logs_even_if_its_parent_died_holding_the_log_lock():
    """oslo.log's handler locks are pipes a fork shares: a parent killed in the middle
    of a log line (here: one that never ends) must not leave its workers hanging at
    their next one."""
    result = run_program("""
        import logging
        handler = logging.getLogger().handlers[0]
        pid = os.fork()
        if pid == 0:
            time.sleep(0.5)  # the parent is in its log line by now
            logging.getLogger("worker").warning("the worker logs")
            os._exit(0)
        handler.acquire()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = None
        handler.release()
        print("@ worker_exit", status, flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert said(result.stdout) == ["worker_exit", "0"]
    assert "the worker logs" in result.stdout


def test_a_service_that_fails_to_start_exits_with_status_1():
    """Supervisors (systemd's Restart=on-failure) must see the failure."""
    result = run_program("""
        def start():
            raise RuntimeError("cannot bind")

        sys.exit(service.run(service.Service("test", start, lambda: None)))
    """)
    assert result.returncode == 1, result.stdout + result.stderr


def test_sigint_to_the_process_group_stops_every_worker_as_sigterm_does(tmp_path):
    """Ctrl-C reaches a proxy's whole process group: each worker runs its stop (it
    was left without a SIGTERM handler, then killed by its parent's SIGTERM)."""
    program = PATCHED_PRELUDE + textwrap.dedent("""
        parent = os.getpid()

        def mark(what):
            if os.getpid() != parent:
                open(os.path.join(%r, "%%s-%%d" %% (what, os.getpid())), "w").close()

        sys.exit(service.run(service.Service("test", lambda: mark("started"),
                                             lambda: mark("stopped")), workers=2))
    """ % str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", program], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = sorted(path.name.split("-")[1] for path in tmp_path.glob("started-*"))
        os.killpg(child.pid, signal.SIGINT)
        _, stderr = child.communicate(timeout=CHILD_TIMEOUT)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    stopped = sorted(path.name.split("-")[1] for path in tmp_path.glob("stopped-*"))
    assert len(started) == 2
    assert stopped == started, stderr
    assert child.returncode == 0, stderr


def test_reopen_log_files_follows_a_log_file_moved_by_logrotate(tmp_path):
    path = tmp_path / "service.log"
    handler = logging.FileHandler(path)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        root.warning("before the rotation")
        path.rename(tmp_path / "service.log.1")
        service.reopen_log_files()
        root.warning("after the rotation")
    finally:
        root.removeHandler(handler)
        handler.close()
    assert "after the rotation" in path.read_text()
    assert "after" not in (tmp_path / "service.log.1").read_text()


# What README ("Signals and process life") says SIGHUP applies: (group, option).
RELOADABLE_OPTIONS = [
    (None, "cert"), (None, "key"), (None, "service_down_time"),
    ("console", "ssl_ciphers"), ("console", "ssl_minimum_version"),
    ("console", "allowed_origins"), ("console", "request_timeout"),
    ("console", "backend_connect_timeout"),
    ("consoleauth", "token_ttl"), ("consoleauth", "enforce_session_timeout"),
    ("api", "max_request_body_size"),
]


@pytest.mark.parametrize("group, name", RELOADABLE_OPTIONS)
def test_the_options_sighup_applies_are_mutable(group, name):
    """oslo.config's mutate (SIGHUP) changes only options marked mutable; any other
    change is ignored with a warning."""
    from nova_console import conf as nc_conf

    assert nc_conf.CONF._get_opt_info(name, group)["opt"].mutable
