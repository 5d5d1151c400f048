"""A service's life as systemd and an operator see it (service.py, on oslo.service):

* SIGHUP, as logrotate and `systemctl reload` send it, to every service: each keeps
  running with its connections and console sessions, applies the new log level from
  its configuration file, and SIGTERM afterwards still ends everything, worker
  processes included, within 5 s;
* READY=1 to $NOTIFY_SOCKET (Type=notify) once the service serves;
* a proxy's workers end as soon as their parent does, even after a kill -9.
"""
import os
import re
import socket
import time

import requests

import pytest

from tests.functional import deployment as deployment_mod
from tests.functional import wsclient

PROXY_WORKERS = 2
DEBUG_LINE = re.compile(r"^\S+ \S+ \d+ DEBUG ", re.MULTILINE)


def child_pids(pid):
    """pids of the live processes whose parent is `pid`."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(entry))
    return children


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def port_listening(port):
    """True if a socket of this machine listens on TCP `port`. Read from the kernel's
    tables: a connect() to a closed port of the ephemeral range on loopback may connect
    the socket to itself, and look like a listener."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def _set_debug(cloud, value):
    with open(cloud.common_conf) as conf:
        text = conf.read()
    with open(cloud.common_conf, "w") as conf:
        conf.write(re.sub(r"(?m)^debug = \w+$", "debug = %s" % value, text))


def _open_novnc_session(cloud, server_id):
    url = cloud.admin_api.vnc_console_url_legacy(server_id)
    conn = wsclient.ConsoleConnection.open_console_url(url, cloud.proxy_port)
    assert conn.status == 101, conn.read_refusal_body()
    return conn, conn.rfb_handshake()


def test_sighup_reloads_every_service_without_dropping_a_session(deployments):
    cloud = deployments(label="reload", conf={"DEFAULT": {"debug": "false"},
                                              "console": {"workers": PROXY_WORKERS}})
    server_id = cloud.admin_api.create_server("reload-me")
    cloud.admin_api.wait_for_status(server_id)
    session, server_init = _open_novnc_session(cloud, server_id)
    processes = dict(cloud.processes)
    workers = {name: child_pids(processes[name].pid) for name in cloud.proxies}
    assert all(len(pids) == PROXY_WORKERS for pids in workers.values()), workers
    assert not any(DEBUG_LINE.search(p.log_text(since_start=True))
                   for p in processes.values())

    _set_debug(cloud, "true")
    offsets = {name: len(p.log_text()) for name, p in processes.items()}
    for process in processes.values():
        os.kill(process.pid, 1)  # SIGHUP
    for name, process in processes.items():
        reloads = PROXY_WORKERS if name in cloud.proxies else 1
        deployment_mod.wait_for(
            lambda: process.log_text()[offsets[name]:].count(
                "reloaded its configuration (SIGHUP)") >= reloads,
            30, message="%s to reload (%d process(es))" % (name, reloads))

    # Every process still runs: the same ones (no restart), the same workers.
    assert all(process.running for process in processes.values())
    assert {name: child_pids(processes[name].pid) for name in cloud.proxies} == workers
    # The session opened before the SIGHUP still relays the console.
    pixels = session.read_framebuffer(server_init)
    assert len(wsclient.distinct_colours(pixels, server_init)) >= 1
    # New work after the SIGHUP is logged at the new level, by every service.
    second, _ = _open_novnc_session(cloud, server_id)
    second.close()
    for name in cloud.proxies:  # any answer (the XVP proxy refuses a GET) is logged
        requests.get("http://127.0.0.1:%d/" % cloud.proxy_ports[name], timeout=30)
    for name, process in processes.items():
        deployment_mod.wait_for(lambda: DEBUG_LINE.search(process.log_text()[offsets[name]:]),
                                30, message="a DEBUG line from %s after the reload" % name)
    session.close()

    started = time.monotonic()
    for process in processes.values():
        process.send_stop()
    exits = {name: process.finish_stop(started + deployment_mod.STOP_TIMEOUT)
             for name, process in processes.items()}
    assert exits == {name: 0 for name in processes}, exits
    leftovers = [pid for pids in workers.values() for pid in pids if pid_alive(pid)]
    assert not leftovers, "proxy workers outlived their parent: %s" % leftovers


def _start_with_notify_socket(cloud, tmp_path, script, own_conf):
    """`script` started on the deployment's configuration plus `own_conf`, with
    $NOTIFY_SOCKET set: (the process, the socket systemd would listen on)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(deployment_mod.READY_TIMEOUT)
    conf_path = tmp_path / "own.conf"
    conf_path.write_text(deployment_mod.ini_text(own_conf))
    argv = [deployment_mod.console_script(script), "--config-file", cloud.common_conf,
            "--config-file", cloud.database_conf, "--config-file", str(conf_path)]
    env = dict(cloud.service_env(), NOTIFY_SOCKET=str(tmp_path / "notify"))
    process = deployment_mod.ServiceProcess(script, argv, str(tmp_path / "service.log"),
                                            cwd=str(tmp_path), env=env)
    process.start()
    return process, listener


@pytest.fixture(scope="module")
def cloud(module_deployments):
    return module_deployments(label="lifecycle", proxies=("novncproxy",))


@pytest.mark.parametrize("script, port_option", [
    ("nova-console-api", ("DEFAULT", "osapi_compute_listen_port")),
    ("nova-novncproxy", ("vnc", "novncproxy_port")),
])
def test_systemd_hears_ready_once_the_service_accepts_connections(cloud, tmp_path, script,
                                                                   port_option):
    port = deployment_mod.free_port()
    section, option = port_option
    own = {"DEFAULT": {"host": "ready-test"}, "console": {"workers": PROXY_WORKERS},
           section: {option: port}}
    process, listener = _start_with_notify_socket(cloud, tmp_path, script, own)
    try:
        assert listener.recv(64) == b"READY=1"
        assert port_listening(port)
        assert process.stop() == 0
    finally:
        process.kill()
        listener.close()


def test_proxy_workers_exit_when_their_parent_is_killed(cloud, tmp_path):
    port = deployment_mod.free_port()
    own = {"console": {"workers": PROXY_WORKERS}, "vnc": {"novncproxy_port": port}}
    process, listener = _start_with_notify_socket(cloud, tmp_path, "nova-novncproxy", own)
    try:
        assert listener.recv(64) == b"READY=1"
        deployment_mod.wait_for(lambda: len(child_pids(process.pid)) == PROXY_WORKERS, 30,
                                message="%d proxy workers" % PROXY_WORKERS)
        workers = child_pids(process.pid)
        process.kill()  # SIGKILL: the parent cannot tell its workers anything
        deployment_mod.wait_for(lambda: not any(pid_alive(pid) for pid in workers), 15,
                                message="the workers %s to exit after their parent" % workers)
        deployment_mod.wait_for(lambda: not port_listening(port), 15,
                                message="port %d to be closed with the workers" % port)
    finally:
        process.kill()
        listener.close()
