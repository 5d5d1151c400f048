"""A real deployment for functional tests: every service a separate process on RabbitMQ.

    deployment = Deployment(workdir, transport_url, compute_hosts=("compute-1", "compute-2"))
    deployment.start()          # config files, `db sync`, processes, readiness
    deployment.api.create_server("vm-a") ...
    deployment.restart("compute-1")
    deployment.stop()           # SIGTERM, 5 s, SIGKILL

Processes are the installed console scripts from the virtualenv that runs the
tests, each with its stdout/stderr in <workdir>/logs/<name>.log. Compute hosts
get no [database] section: they must work over RPC alone.
"""
import atexit
import contextlib
import ctypes
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest
import requests

from nova_console.compute.drivers.conformance import wait_for
from tests.functional import wsclient

BIN_DIR = os.path.dirname(sys.executable)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RABBIT_HOST = "127.0.0.1"
RABBIT_PORT = 5672
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1/postgres"

STOP_TIMEOUT = 5.0
READY_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0
# RPC calls (API -> compute/consoleauth, proxy -> consoleauth -> compute) give up after
# this long: short enough that a hung call fails a test quickly.
RPC_RESPONSE_TIMEOUT = 10

# Every process started by this module, so none outlives the test run.
_ALL_PROCESSES = []
# Deployments started and not yet stopped (conftest prints their logs on failure).
LIVE_DEPLOYMENTS = []

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL if the test runner dies without cleaning up."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


# The mark of the test modules that boot QEMU guests (the qemu driver builds its guest
# with nasm).
NEEDS_QEMU = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None or shutil.which("nasm") is None,
    reason="needs qemu-system-x86_64 and nasm (apt-get install qemu-system-x86 nasm)")


def unique_name(prefix):
    """A server name no other test of this run uses."""
    return "%s-%s" % (prefix, secrets.token_hex(3))


def free_port():
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_accepts(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def console_script(name):
    path = os.path.join(BIN_DIR, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError("console script %s not found: install the package in develop mode "
                           "(pip install -e %s)" % (path, REPO_ROOT))
    return path


# --- RabbitMQ ----------------------------------------------------------------------------

def ensure_rabbitmq(timeout=60.0):
    """None if RabbitMQ answers on 127.0.0.1:5672 (starting it if need be), else why not."""
    if port_accepts(RABBIT_HOST, RABBIT_PORT):
        return None
    server = shutil.which("rabbitmq-server")
    if server is None:
        return ("RabbitMQ does not accept connections on %s:%d and rabbitmq-server is not "
                "installed" % (RABBIT_HOST, RABBIT_PORT))
    result = subprocess.run([server, "-detached"], capture_output=True, text=True, timeout=30)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(RABBIT_HOST, RABBIT_PORT):
            return None
        time.sleep(0.5)
    return ("RabbitMQ still does not accept connections on %s:%d %.0f s after "
            "'rabbitmq-server -detached' (exit %s, output %r)"
            % (RABBIT_HOST, RABBIT_PORT, timeout, result.returncode,
               (result.stdout + result.stderr)[-500:]))


def _rabbitmqctl(*args):
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is not installed: cannot create a test vhost")
    result = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("rabbitmqctl %s failed (exit %d): %s"
                           % (" ".join(args), result.returncode,
                              (result.stdout + result.stderr).strip()[-1000:]))


def create_vhost(vhost=None):
    """A new vhost that guest may use fully; its name."""
    vhost = vhost or "nova-console-test-%s" % secrets.token_hex(4)
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return vhost


def delete_vhost(vhost):
    _rabbitmqctl("delete_vhost", vhost)


# --- PostgreSQL --------------------------------------------------------------------------

def postgres_unavailable_reason():
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return "PostgreSQL not reachable at %s: %s" % (POSTGRES_ADMIN_URL, exc)
    return None


def _postgres_admin(statement):
    import psycopg
    conn = psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=5, autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def create_postgres_database(scheme="postgresql"):
    """A fresh, empty database; its SQLAlchemy URL (plain postgresql://, as documented:
    psycopg 3, the driver the package's 'postgresql' extra installs)."""
    name = "nova_console_test_%s" % secrets.token_hex(4)
    _postgres_admin('CREATE DATABASE "%s"' % name)
    parts = urllib.parse.urlsplit(POSTGRES_ADMIN_URL)
    return urllib.parse.urlunsplit(parts._replace(scheme=scheme, path="/" + name))


def drop_postgres_database(url):
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    _postgres_admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


# --- processes -----------------------------------------------------------------------------

class ServiceProcess:
    """One service process: its command line, its log file, start/stop/kill."""

    def __init__(self, name, argv, log_path, cwd, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.popen = None
        self.expected_running = False
        self._log_offset = 0

    def start(self):
        if self.running:
            raise RuntimeError("%s is already running" % self.name)
        # Log lines of this run start here (a restarted process appends to the same log).
        self._log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log:
            log.write(("==== %s: started %s\n" % (time.strftime("%H:%M:%S"),
                                                   " ".join(self.argv))).encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=self.cwd, env=self.env,
                                          preexec_fn=_die_with_parent)
        _ALL_PROCESSES.append(self)
        self.expected_running = True

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    @property
    def running(self):
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll() if self.popen else None

    def send_stop(self):
        """SIGTERM, without waiting."""
        self.expected_running = False
        if self.running:
            self.popen.send_signal(signal.SIGTERM)

    def finish_stop(self, deadline):
        """Wait for the exit until `deadline` (monotonic), then SIGKILL; the exit status."""
        if self.popen is None:
            return None
        try:
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._note("did not exit %.0f s after SIGTERM: SIGKILL" % STOP_TIMEOUT)
            self.popen.kill()
            self.popen.wait(timeout=10)
        return self.popen.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        self.send_stop()
        return self.finish_stop(time.monotonic() + timeout)

    def kill(self):
        """SIGKILL: the process gets no chance to clean up (a crash)."""
        self.expected_running = False
        if self.running:
            self.popen.kill()
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def _note(self, text):
        with open(self.log_path, "ab") as log:
            log.write(("==== %s: %s\n" % (time.strftime("%H:%M:%S"), text)).encode())

    def log_text(self, since_start=False):
        try:
            with open(self.log_path, "rb") as log:
                if since_start:
                    log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines=80):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, pattern, timeout=READY_TIMEOUT):
        """Wait until this run's log matches `pattern`; fail at once if the process exits."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if regex.search(self.log_text(since_start=True)):
                return
            if not self.running:
                raise AssertionError("%s exited with status %s before logging %r:\n%s"
                                     % (self.name, self.returncode, pattern, self.tail(40)))
            if time.monotonic() >= deadline:
                raise AssertionError("%s did not log %r within %.0f s:\n%s"
                                     % (self.name, pattern, timeout, self.tail(40)))
            time.sleep(0.1)


def instance_processes(directory, uuid=None):
    """pids of live processes working under `directory` (QEMU instances run in their
    instance directory), only those whose command line has `uuid` if given."""
    directory = os.path.realpath(str(directory)) + os.sep
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % entry)
            with open("/proc/%s/cmdline" % entry, "rb") as cmdline:
                args = cmdline.read().split(b"\0")
        except OSError:
            continue
        if not (cwd + os.sep).startswith(directory) or not args[0]:
            continue  # elsewhere, or a zombie
        if uuid is None or uuid.encode() in args:
            pids.append(int(entry))
    return pids


def _kill_leftovers():
    for process in _ALL_PROCESSES:
        if process.running:
            process.popen.kill()


atexit.register(_kill_leftovers)


class ImpostorConsoleServer:
    """Listens on a given port and counts who connects (a VNC server another instance
    might own after the port was freed)."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.sendall(b"RFB 003.008\n")
            except OSError:
                pass
            conn.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)


# --- REST ----------------------------------------------------------------------------------

class APIError(AssertionError):
    def __init__(self, method, url, response):
        super().__init__("%s %s -> %d %s" % (method, url, response.status_code,
                                              response.text[:500]))
        self.status = response.status_code
        self.response = response


class APIClient:
    """Tiny client of the REST API; `token` is a noauth2 X-Auth-Token ('user:project')."""

    def __init__(self, base_url, token="demo:demo"):
        self.base_url = base_url.rstrip("/")
        self.token = token

    def as_user(self, token):
        return APIClient(self.base_url, token)

    def request(self, method, path, body=None, version=None, expect=None):
        """An API request with a JSON body (or none); the requests.Response."""
        headers = {"X-Auth-Token": self.token, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if version:
            headers["X-OpenStack-Nova-API-Version"] = version
        url = self.base_url + path
        response = requests.request(method, url, headers=headers, timeout=HTTP_TIMEOUT,
                                    data=None if body is None else json.dumps(body))
        if expect is not None and response.status_code != expect:
            raise APIError(method, url, response)
        return response

    def version_document(self):
        return requests.get(self.base_url + "/v2.1", timeout=5)

    def create_server(self, name):
        response = self._post_json("/v2.1/servers", {"server": {"name": name}}, expect=202)
        return response.json()["server"]["id"]

    def _post_json(self, path, body, version=None, expect=None):
        return self.request("POST", path, body, version=version, expect=expect)

    def get_server(self, server_id, expect=200):
        response = self.request("GET", "/v2.1/servers/%s" % server_id, expect=expect)
        return response.json()["server"] if response.status_code == 200 else None

    def wait_for_status(self, server_id, status="ACTIVE", timeout=READY_TIMEOUT):
        last = {}

        def reached():
            server = self.get_server(server_id)
            last["server"] = server
            if server["status"] == "ERROR" and status != "ERROR":
                raise AssertionError("server %s went to ERROR: %s"
                                     % (server_id, server.get("fault")))
            return server if server["status"] == status else None

        try:
            return wait_for(reached, timeout, message="server %s to be %s" % (server_id, status))
        except AssertionError as exc:
            raise AssertionError("%s (last seen: %s)" % (exc, last.get("server"))) from None

    def delete_server(self, server_id):
        self.request("DELETE", "/v2.1/servers/%s" % server_id, expect=204)

    def wait_for_deleted(self, server_id, timeout=READY_TIMEOUT):
        wait_for(lambda: self.request("GET", "/v2.1/servers/%s" % server_id).status_code == 404,
                 timeout, message="server %s to disappear" % server_id)

    def vnc_console_url_legacy(self, server_id, console_type="novnc"):
        """The os-getVNCConsole action (any microversion, none sent)."""
        response = self._post_json("/v2.1/servers/%s/action" % server_id,
                                   {"os-getVNCConsole": {"type": console_type}}, expect=200)
        console = response.json()["console"]
        assert console["type"] == console_type, console
        return console["url"]

    def vnc_console_url_remote_consoles(self, server_id, version="2.6", console_type="novnc"):
        """POST remote-consoles (microversion >= 2.6)."""
        response = self._post_json(
            "/v2.1/servers/%s/remote-consoles" % server_id,
            {"remote_console": {"protocol": "vnc", "type": console_type}},
            version=version, expect=200)
        console = response.json()["remote_console"]
        assert (console["protocol"], console["type"]) == ("vnc", console_type), console
        return console["url"]


# --- the deployment ------------------------------------------------------------------------

def ini_text(sections):
    """The INI text of {"section": {"option": value}}."""
    lines = []
    for section, options in sections.items():
        lines.append("[%s]" % section)
        for key, value in options.items():
            lines.append("%s = %s" % (key, value))
        lines.append("")
    return "\n".join(lines)


# Process name -> console script of each console proxy a deployment may run.
PROXY_SCRIPTS = {"novncproxy": "nova-novncproxy", "xvpvncproxy": "nova-xvpvncproxy",
                 "spicehtml5proxy": "nova-spicehtml5proxy", "serialproxy": "nova-serialproxy"}
DEFAULT_PROXIES = ("novncproxy", "xvpvncproxy")


class Deployment:
    """API, compute host(s), consoleauth worker(s) and console proxies (`proxies`, names
    of PROXY_SCRIPTS: by default nova-novncproxy and nova-xvpvncproxy), as separate
    processes.

    Process names: "api", "compute-1"... (also their `host`), "consoleauth-1"..., and
    the proxies' names. `database_url` None means a SQLite file in `workdir`.
    `conf` adds options ({"section": {"key": value}}) to every service's file,
    `host_conf` ({name: {"section": {...}}}) to one process' own (e.g. another
    compute_driver on one compute host).
    """

    def __init__(self, workdir, transport_url, compute_hosts=("compute-1",),
                 consoleauth_workers=1, database_url=None, conf=None, host_conf=None,
                 label="deployment", proxies=DEFAULT_PROXIES):
        self.workdir = str(workdir)
        self.transport_url = transport_url
        self.compute_hosts = tuple(compute_hosts)
        self.consoleauth_names = tuple("consoleauth-%d" % (n + 1)
                                       for n in range(consoleauth_workers))
        self.database_url = database_url or "sqlite:///%s" % os.path.join(
            self.workdir, "nova_console.sqlite")
        self.extra_conf = conf or {}
        self.host_conf = host_conf or {}
        self.label = label
        self.vhost = None  # set by whoever created a vhost for it
        self.api_port = free_port()
        self.proxies = tuple(proxies)
        self.proxy_ports = {name: free_port() for name in PROXY_SCRIPTS}
        self.proxy_port = self.proxy_ports["novncproxy"]
        self.xvp_port = self.proxy_ports["xvpvncproxy"]
        self.spice_port = self.proxy_ports["spicehtml5proxy"]
        self.serial_port = self.proxy_ports["serialproxy"]
        self.log_dir = os.path.join(self.workdir, "logs")
        self.conf_dir = os.path.join(self.workdir, "etc")
        self.processes = {}
        self.api = APIClient("http://127.0.0.1:%d" % self.api_port)
        self.admin_api = self.api.as_user("admin:admin")

    # -- configuration ----------------------------------------------------------------------

    @property
    def proxy_base_url(self):
        return "http://127.0.0.1:%d/vnc_lite.html" % self.proxy_port

    @property
    def xvp_base_url(self):
        return "http://127.0.0.1:%d/console" % self.xvp_port

    @property
    def spice_base_url(self):
        return "http://127.0.0.1:%d/spice_auto.html" % self.spice_port

    @property
    def serial_base_url(self):
        return "ws://127.0.0.1:%d/" % self.serial_port

    @property
    def proxy_origin(self):
        return "http://127.0.0.1:%d" % self.proxy_port

    def _common_sections(self):
        sections = {
            "DEFAULT": {
                "transport_url": self.transport_url,
                "state_path": os.path.join(self.workdir, "state"),
                "debug": "true",
                "use_stderr": "true",
                "report_interval": 1,
                "service_down_time": 10,
                "rpc_response_timeout": RPC_RESPONSE_TIMEOUT,
                "compute_driver": "fake",
                "web": "/usr/share/novnc",
                "osapi_compute_listen": "127.0.0.1",
                "osapi_compute_listen_port": self.api_port,
            },
            "vnc": {
                "server_listen": "127.0.0.1",
                "server_proxyclient_address": "127.0.0.1",
                "novncproxy_base_url": self.proxy_base_url,
                "novncproxy_host": "127.0.0.1",
                "novncproxy_port": self.proxy_port,
                "xvpvncproxy_base_url": self.xvp_base_url,
                "xvpvncproxy_host": "127.0.0.1",
                "xvpvncproxy_port": self.xvp_port,
            },
            "spice": {
                "server_listen": "127.0.0.1",
                "server_proxyclient_address": "127.0.0.1",
                "html5proxy_base_url": self.spice_base_url,
                "html5proxy_host": "127.0.0.1",
                "html5proxy_port": self.spice_port,
            },
            "serial_console": {
                "enabled": "true",
                "base_url": self.serial_base_url,
                "serialproxy_host": "127.0.0.1",
                "serialproxy_port": self.serial_port,
            },
            "api": {"auth_strategy": "noauth2"},
        }
        for section, options in self.extra_conf.items():
            sections.setdefault(section, {}).update(options)
        return sections

    def write_config(self):
        os.makedirs(self.log_dir, exist_ok=True)
        os.makedirs(self.conf_dir, exist_ok=True)
        os.makedirs(os.path.join(self.workdir, "state"), exist_ok=True)
        self.common_conf = os.path.join(self.conf_dir, "nova_console.conf")
        self.database_conf = os.path.join(self.conf_dir, "database.conf")
        with open(self.common_conf, "w") as conf:
            conf.write(ini_text(self._common_sections()))
        with open(self.database_conf, "w") as conf:
            conf.write(ini_text({"database": {"connection": self.database_url}}))

    def state_path(self, name):
        """The state directory of process `name` (a compute host's QEMU instances live in
        <state_path>/instances): one per process, so hosts never see each other's."""
        return os.path.join(self.workdir, "state", name)

    def _host_conf(self, name):
        path = os.path.join(self.conf_dir, "%s.conf" % name)
        os.makedirs(self.state_path(name), exist_ok=True)
        sections = {"DEFAULT": {"host": name, "state_path": self.state_path(name)}}
        for section, options in self.host_conf.get(name, {}).items():
            sections.setdefault(section, {}).update(options)
        with open(path, "w") as conf:
            conf.write(ini_text(sections))
        return path

    def _config_args(self, name, with_database):
        files = [self.common_conf]
        if with_database:
            files.append(self.database_conf)
        files.append(self._host_conf(name))
        args = []
        for path in files:
            args += ["--config-file", path]
        return args

    def service_env(self):
        """The environment every service of this deployment runs in."""
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("PYTHONPATH", None)  # the installed package, as operators run it
        return env

    def _add_process(self, name, script, with_database):
        argv = [console_script(script)] + self._config_args(name, with_database)
        process = ServiceProcess(name, argv, os.path.join(self.log_dir, "%s.log" % name),
                                 cwd=self.workdir, env=self.service_env())
        self.processes[name] = process
        return process

    # -- life cycle -------------------------------------------------------------------------

    def start(self):
        """Configure, migrate, start everything and wait until a console opens end to end."""
        LIVE_DEPLOYMENTS.append(self)
        self.write_config()
        self.db_sync()
        self._add_process("api", "nova-console-api", with_database=True)
        for name in self.consoleauth_names:
            self._add_process(name, "nova-consoleauth", with_database=True)
        for host in self.compute_hosts:
            self._add_process(host, "nova-console-compute", with_database=False)
        for name in self.proxies:
            self._add_process(name, PROXY_SCRIPTS[name], with_database=False)
        for process in self.processes.values():
            process.start()
        self.wait_until_ready()
        return self

    def db_sync(self):
        argv = [console_script("nova-console-manage"), "--config-file", self.common_conf,
                "--config-file", self.database_conf, "db", "sync"]
        log_path = os.path.join(self.log_dir, "manage-db-sync.log")
        with open(log_path, "wb") as log:
            result = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                    cwd=self.workdir, env=self.service_env(), timeout=120)
        if result.returncode != 0:
            with open(log_path, encoding="utf-8", errors="replace") as log:
                raise AssertionError("'%s' failed with status %d:\n%s"
                                     % (" ".join(argv), result.returncode, log.read()[-3000:]))

    def wait_until_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout

        def remaining():
            return max(1.0, deadline - time.monotonic())

        def api_answers():
            self.check_running()
            try:
                return self.api.version_document().status_code == 200
            except requests.RequestException:
                return False

        wait_for(api_answers, remaining(), message="the API to answer GET /v2.1")
        for name in self.consoleauth_names + self.compute_hosts:
            self.processes[name].wait_for_log(r"Serving RPC topic", remaining())
        for name in self.proxies:
            port = self.proxy_ports[name]
            wait_for(lambda: self.check_running() or port_accepts("127.0.0.1", port),
                     remaining(), message="%s to accept connections" % PROXY_SCRIPTS[name])
        self._probe_every_compute_host(remaining())

    def _probe_every_compute_host(self, timeout):
        """Servers until every compute host runs one (heartbeats seen by the API), and one
        console opened end to end through the proxy; the probe servers are deleted."""
        deadline = time.monotonic() + timeout
        probes = {}  # host -> server id
        others = []
        try:
            while set(probes) != set(self.compute_hosts):
                if time.monotonic() >= deadline:
                    raise AssertionError("compute hosts never all became usable; servers "
                                         "landed on %s only" % sorted(probes))
                self.check_running()
                server_id = self.admin_api.create_server("probe-%s" % secrets.token_hex(3))
                server = self.admin_api.get_server(server_id)
                if server["status"] == "ERROR":  # no compute host up yet
                    others.append(server_id)
                    time.sleep(0.3)
                    continue
                server = self.admin_api.wait_for_status(server_id, "ACTIVE",
                                                        max(1.0, deadline - time.monotonic()))
                host = server["OS-EXT-SRV-ATTR:host"]
                if host in probes:
                    others.append(server_id)
                else:
                    probes[host] = server_id
            for server_id in probes.values():
                url = self.admin_api.vnc_console_url_legacy(server_id)
                with wsclient.ConsoleConnection.open_console_url(url, self.proxy_port) as conn:
                    if conn.status != 101:
                        raise AssertionError("probe console refused: %d %r"
                                             % (conn.status, conn.read_refusal_body()))
                    version = conn.read_rfb_version()
                    if version != wsclient.RFB_VERSION_3_8:
                        raise AssertionError("probe console sent %r" % version)
        finally:
            for server_id in list(probes.values()) + others:
                with contextlib.suppress(Exception):
                    self.admin_api.delete_server(server_id)

    def check_running(self):
        """AssertionError (with logs) if a process that should run has exited."""
        dead = [p for p in self.processes.values() if p.expected_running and not p.running]
        if dead:
            raise AssertionError("%s: process(es) exited unexpectedly: %s\n%s" % (
                self.label, ", ".join("%s (status %s)" % (p.name, p.returncode) for p in dead),
                "\n".join("---- %s ----\n%s" % (p.name, p.tail(40)) for p in dead)))
        return False

    def stop_process(self, name, timeout=STOP_TIMEOUT):
        return self.processes[name].stop(timeout)

    def kill_process(self, name):
        self.processes[name].kill()

    def start_process(self, name, wait_pattern=None):
        """Start a stopped process again (same configuration, log appended)."""
        process = self.processes[name]
        process.start()
        if name == "api":
            wait_for(lambda: process.running and self.api.version_document().status_code == 200,
                     READY_TIMEOUT, message="the API to answer again")
        elif name in PROXY_SCRIPTS:
            port = self.proxy_ports[name]
            wait_for(lambda: port_accepts("127.0.0.1", port), READY_TIMEOUT,
                     message="%s to accept connections again" % PROXY_SCRIPTS[name])
        else:
            process.wait_for_log(wait_pattern or r"Serving RPC topic")

    def restart(self, name):
        self.stop_process(name)
        self.start_process(name)

    def stop(self):
        """SIGTERM every process, wait up to 5 s, SIGKILL the rest."""
        processes = list(self.processes.values())
        for process in processes:
            process.send_stop()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in processes:
            process.finish_stop(deadline)
        # Instances that outlive their compute service (QEMU) must not outlive the test.
        for pid in instance_processes(os.path.join(self.workdir, "state")):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if self in LIVE_DEPLOYMENTS:
            LIVE_DEPLOYMENTS.remove(self)

    def logs_report(self, lines=60):
        """The tail of every process' log, for a failure report."""
        parts = ["%s in %s (API :%d, %s, %s)" % (
            self.label, self.workdir, self.api_port,
            ", ".join("%s :%d" % (name, self.proxy_ports[name]) for name in self.proxies),
            self.database_url)]
        for process in self.processes.values():
            state = ("running" if process.running else "exited with status %s"
                     % process.returncode)
            parts.append("---- %s (pid %s, %s) %s ----\n%s" % (
                process.name, process.pid, state, process.log_path, process.tail(lines)))
        return "\n".join(parts)

    # -- convenience ------------------------------------------------------------------------

    def open_console(self, url, **kwargs):
        """The WebSocket noVNC opens for console URL `url`, with the proxy's own Origin."""
        return wsclient.ConsoleConnection.open_console_url(url, self.proxy_port, **kwargs)

    def proxy_http_get(self, path, headers=None):
        """A plain HTTP GET to the proxy: (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=15)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


# --- the unmodified OpenStack clients, without Keystone -----------------------------------

def openstack(deployment, *args, admin=False):
    """Run the `openstack` CLI of the test virtualenv against `deployment`'s API (noauth:
    --os-auth-type none, or admin_token admin:admin); the CompletedProcess."""
    endpoint = "http://127.0.0.1:%d/v2.1" % deployment.api_port
    auth = (["--os-auth-type", "admin_token", "--os-token", "admin:admin"] if admin
            else ["--os-auth-type", "none"])
    return subprocess.run([os.path.join(BIN_DIR, "openstack"), *auth, "--os-endpoint",
                           endpoint, *args], capture_output=True, text=True, timeout=120)


def novaclient(deployment, version, token=None):
    """A python-novaclient Client of `deployment`'s API at microversion `version`
    (noauth; `token`, e.g. "admin:admin", sent as X-Auth-Token when given)."""
    from keystoneauth1 import noauth
    from keystoneauth1 import session as ks_session
    from keystoneauth1 import token_endpoint
    from novaclient import client as nova_client

    endpoint = "http://127.0.0.1:%d/v2.1" % deployment.api_port
    auth = (token_endpoint.Token(endpoint, token) if token
            else noauth.NoAuth(endpoint=endpoint))
    return nova_client.Client(version, session=ks_session.Session(auth=auth))
