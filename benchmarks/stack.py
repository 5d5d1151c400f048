"""A real nova_console deployment for the benchmark: every service its own process on
RabbitMQ (a private vhost), SQLite, the static compute driver pointing one server at
the benchmark's VNC server.

    stack = Stack(workdir, rfb_port=5999, proxy_port=6080)
    stack.start()                  # config, db sync, consoleauth, compute, API, "bench" server
    token = stack.issue_token()    # REST os-getVNCConsole: API -> compute -> consoleauth
    stack.proxy_command()          # the nova-novncproxy command line (the driver starts it)
    stack.xvp_command()            # the same for nova-xvpvncproxy; issue_token("xvpvnc")
    stack.serial_command()         # nova-serialproxy, to serial_port; issue_token("serial")
    stack.stop()                   # SIGTERM each process by its PID, vhost deleted

Only the standard library: the driver runs in whatever Python starts it.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

RABBIT = ("127.0.0.1", 5672)
ADMIN_TOKEN = "admin:bench"
SERVER_NAME = "bench"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def token_from_url(url):
    """The token in a console URL (noVNC's path=?token=... or a plain ?token=)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for inner in query.get("path", []):
        inner_query = urllib.parse.parse_qs(urllib.parse.urlsplit(inner).query)
        if inner_query.get("token"):
            return inner_query["token"][0]
    return query["token"][0]


class Stack:
    def __init__(self, workdir, rfb_port, proxy_port, bin_dir=None, rfb_host="127.0.0.1",
                 xvp_port=None, serial_port=None):
        """serial_port: the bench server's serial console (an echo server's port)."""
        self.workdir = os.path.abspath(workdir)
        self.rfb_host, self.rfb_port = rfb_host, rfb_port
        self.proxy_port = proxy_port
        self.xvp_port = xvp_port or free_port()
        self.serial_proxy_port = free_port()
        self.serial_port = serial_port or free_port()
        self.bin_dir = bin_dir or os.path.dirname(sys.executable)
        self.api_port = free_port()
        self.vhost = "nova-console-bench-%s" % secrets.token_hex(4)
        self.conf = os.path.join(self.workdir, "nova_console.conf")
        self.processes = {}
        self.server_id = None

    @classmethod
    def attach(cls, api_port, server_id):
        """A handle on a running deployment, for issuing tokens only."""
        stack = cls.__new__(cls)
        stack.api_port, stack.server_id = api_port, server_id
        return stack

    # -- configuration ------------------------------------------------------------

    def _write_config(self):
        state = os.path.join(self.workdir, "state")
        web = os.path.join(self.workdir, "web")
        os.makedirs(state, exist_ok=True)
        os.makedirs(web, exist_ok=True)
        with open(os.path.join(web, "vnc_lite.html"), "w") as page:
            page.write("<html>benchmark</html>\n")
        with open(self.conf, "w") as conf:
            conf.write(CONFIG % {
                "transport_url": "rabbit://guest:guest@%s:%d/%s" % (RABBIT + (self.vhost,)),
                "state": state, "web": web, "api_port": self.api_port,
                "proxy_port": self.proxy_port, "xvp_port": self.xvp_port,
                "serial_proxy_port": self.serial_proxy_port, "serial_port": self.serial_port,
                "rfb_host": self.rfb_host,
                "rfb_port": self.rfb_port,
                "cert": os.path.join(self.workdir, "no-cert.pem")})

    def script(self, name):
        return os.path.join(self.bin_dir, name)

    # -- processes ----------------------------------------------------------------

    def _start(self, name, *args):
        log = open(os.path.join(self.workdir, name + ".log"), "ab")
        process = subprocess.Popen([self.script(name), "--config-file", self.conf, *args],
                                   stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.processes[name] = process
        return process

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        _rabbitmqctl("add_vhost", self.vhost)
        _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        self._write_config()
        subprocess.run([self.script("nova-console-manage"), "--config-file", self.conf,
                        "db", "sync"], check=True, capture_output=True)
        self._start("nova-consoleauth")
        self._start("nova-console-compute")
        api = self._start("nova-console-api")
        if not wait_listening(self.api_port, api):
            raise RuntimeError("nova-console-api did not start (see %s)" % self.workdir)
        self.server_id = self._create_server()

    def proxy_command(self, workers=1, script="nova-novncproxy"):
        """Shell command that runs nova-novncproxy (or `script`, another proxy) in the
        foreground (exec: its PID is the proxy's, the root of its workers)."""
        extra = os.path.join(self.workdir, "workers-%d.conf" % workers)
        with open(extra, "w") as conf:
            conf.write("[console]\nworkers = %d\n" % workers)
        return "exec %s --config-file %s --config-file %s" % (
            self.script(script), self.conf, extra)

    def xvp_command(self, workers=1):
        return self.proxy_command(workers, script="nova-xvpvncproxy")

    def serial_command(self, workers=1):
        return self.proxy_command(workers, script="nova-serialproxy")

    def stop(self):
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        try:
            _rabbitmqctl("delete_vhost", self.vhost)
        except RuntimeError:
            pass

    # -- REST ---------------------------------------------------------------------

    def api(self, method, path, body=None, timeout=30):
        request = urllib.request.Request(
            "http://127.0.0.1:%d/v2.1%s" % (self.api_port, path), method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Auth-Token": ADMIN_TOKEN, "Content-Type": "application/json",
                     "OpenStack-API-Version": "compute 2.6"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
        return json.loads(data) if data else None

    def _create_server(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:  # the compute host's first heartbeat may still be on its way
            server = self.api("POST", "/servers", {"server": {"name": SERVER_NAME}})["server"]
            detail = self._wait_built(server["id"], deadline)
            if detail["status"] == "ACTIVE":
                return server["id"]
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ACTIVE: %r" % detail)
            self.api("DELETE", "/servers/%s" % server["id"])
            time.sleep(0.5)

    def _wait_built(self, server_id, deadline):
        while True:
            detail = self.api("GET", "/servers/%s" % server_id)["server"]
            if detail["status"] != "BUILD" or time.monotonic() > deadline:
                return detail
            time.sleep(0.1)

    def console_url(self, console_type="novnc"):
        protocol = "serial" if console_type == "serial" else "vnc"
        body = {"remote_console": {"protocol": protocol, "type": console_type}}
        return self.api("POST", "/servers/%s/remote-consoles" % self.server_id,
                        body)["remote_console"]["url"]

    def issue_token(self, console_type="novnc"):
        return token_from_url(self.console_url(console_type))


def _rabbitmqctl(*args):
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    result = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("rabbitmqctl %s: %s" % (" ".join(args), result.stderr.strip()))


CONFIG = """\
[DEFAULT]
transport_url = %(transport_url)s
host = bench-compute
compute_driver = nova_console.compute.drivers.static:StaticConsoleDriver
state_path = %(state)s
web = %(web)s
cert = %(cert)s
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = %(api_port)s
report_interval = 2

[database]
connection = sqlite:///%(state)s/nova_console.sqlite

[vnc]
novncproxy_host = 127.0.0.1
novncproxy_port = %(proxy_port)s
novncproxy_base_url = http://127.0.0.1:%(proxy_port)s/vnc_lite.html
xvpvncproxy_host = 127.0.0.1
xvpvncproxy_port = %(xvp_port)s
xvpvncproxy_base_url = http://127.0.0.1:%(xvp_port)s/console

[serial_console]
enabled = true
serialproxy_host = 127.0.0.1
serialproxy_port = %(serial_proxy_port)s
base_url = ws://127.0.0.1:%(serial_proxy_port)s/

[static_consoles]
endpoints = bench:%(rfb_host)s:%(rfb_port)s
serial_endpoints = bench:127.0.0.1:%(serial_port)s
reachability_timeout = 0
"""
