"""/healthcheck of nova-console-api and of the console proxies against a RabbitMQ node of
this module's own, which the test stops and starts again: 200, then 503 within a bound
with the reason in the detailed view only, then 200 again.

The node is private (its own port, data directory and Erlang node name, as
/work/shared/RECIPES.md describes): the machine's shared broker is never stopped.
"""
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time

import pytest
import requests

from tests.functional import deployment as deployment_mod

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
PROXIES = ("novncproxy", "xvpvncproxy", "serialproxy")
ADMIN = "admin:admin"

# [healthcheck] of every service: answers reused 1 s, a dependency waited for 2 s.
CACHE_TIME = 1.0
BACKEND_TIMEOUT = 2.0
# Broker stopped -> every /healthcheck says 503 within this many seconds.
UNHEALTHY_WITHIN = CACHE_TIME + BACKEND_TIMEOUT + 10.0
# Broker back -> every /healthcheck says 200 within this many seconds.
HEALTHY_WITHIN = 60.0
# No single health check takes longer than this, broker up or down.
ANSWER_WITHIN = BACKEND_TIMEOUT + 3.0


class PrivateRabbitNode:
    """A RabbitMQ node on 127.0.0.1:`port`, all of its state in a temporary directory."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="nova-console-rabbit-")
        self.port = deployment_mod.free_port()
        self.node = "nchealth-%s@localhost" % secrets.token_hex(3)
        with open(os.path.join(self.directory, "enabled_plugins"), "w") as plugins:
            plugins.write("[].\n")
        open(os.path.join(self.directory, "env.conf"), "w").close()
        with open(os.path.join(self.directory, "rabbitmq.conf"), "w") as conf:
            conf.write("listeners.tcp.local = 127.0.0.1:%d\n" % self.port)
        self.env = self._env(deployment_mod.free_port())

    def _env(self, dist_port):
        env = dict(os.environ)
        env.update({
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.directory, "env.conf"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.directory, "rabbitmq.conf"),
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": os.path.join(self.directory, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.directory, "log"),
            "RABBITMQ_PID_FILE": os.path.join(self.directory, "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.directory, "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface "
                                                   "{127,0,0,1}",
            "HOME": self.directory,
        })
        return env

    @property
    def transport_url(self):
        return "rabbit://guest:guest@127.0.0.1:%d/" % self.port

    def _run(self, script, *args, timeout=60):
        result = subprocess.run([os.path.join(RABBIT_BIN, script)] + list(args),
                                env=self.env, capture_output=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError("%s %s failed (%d): %s" % (
                script, " ".join(args), result.returncode,
                (result.stdout + result.stderr).decode(errors="replace")[-2000:]))

    def start(self):
        self._run("rabbitmq-server", "-detached")
        deployment_mod.wait_for(lambda: deployment_mod.port_accepts("127.0.0.1", self.port),
                                60, interval=0.2, message="RabbitMQ node %s to listen"
                                % self.node)

    def stop(self):
        self._run("rabbitmqctl", "-n", self.node, "stop")
        deployment_mod.wait_for(lambda: not deployment_mod.port_accepts("127.0.0.1", self.port),
                                30, interval=0.2, message="RabbitMQ node %s to stop" % self.node)

    def destroy(self):
        """Stop the node if it runs (also a half-started one) and delete its directory."""
        with contextlib.suppress(Exception):
            self._run("rabbitmqctl", "-n", self.node, "stop", timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def rabbit_node():
    if not os.access(os.path.join(RABBIT_BIN, "rabbitmq-server"), os.X_OK):
        pytest.fail("RabbitMQ is not installed (%s/rabbitmq-server)" % RABBIT_BIN,
                    pytrace=False)
    node = PrivateRabbitNode()
    try:
        node.start()
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="module")
def cloud(rabbit_node, tmp_path_factory):
    conf = {"healthcheck": {"backend_cache_time": CACHE_TIME,
                            "backend_timeout": BACKEND_TIMEOUT}}
    deployment = deployment_mod.Deployment(tmp_path_factory.mktemp("health"),
                                           rabbit_node.transport_url, conf=conf,
                                           label="health", proxies=PROXIES)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


def health_urls(cloud):
    """name -> /healthcheck URL of the API and of each proxy."""
    urls = {"api": "http://127.0.0.1:%d/healthcheck" % cloud.api_port}
    for name in PROXIES:
        urls[name] = "http://127.0.0.1:%d/healthcheck" % cloud.proxy_ports[name]
    return urls


def get_health(url, token=None):
    """The answer of a detailed-view request (JSON), which must come within ANSWER_WITHIN."""
    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    started = time.monotonic()
    response = requests.get(url, headers=headers, timeout=30)
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_WITHIN, "%s took %.1f s" % (url, elapsed)
    return response


def wait_for_status(url, status, timeout):
    return deployment_mod.wait_for(lambda: get_health(url).status_code == status, timeout,
                                   interval=0.2, message="%s to answer %d" % (url, status))


def bus_reason(response):
    [reason] = [r for r in response.json()["reasons"] if r["class"] == "MessageBusResult"]
    return reason


def test_healthcheck_follows_the_message_bus_down_and_back(cloud, rabbit_node):
    urls = health_urls(cloud)
    for url in urls.values():
        assert get_health(url).status_code == 200, url
    assert get_health(urls["api"], ADMIN).json()["detailed"] is True

    rabbit_node.stop()
    try:
        started = time.monotonic()
        for url in urls.values():
            wait_for_status(url, 503, UNHEALTHY_WITHIN - (time.monotonic() - started))
        simple = get_health(urls["api"])
        assert simple.json() == {"detailed": False, "reasons": ["UNAVAILABLE", "OK"]}
        detailed = get_health(urls["api"], ADMIN)
        assert detailed.status_code == 503
        assert bus_reason(detailed)["reason"] == "UNAVAILABLE"
        assert bus_reason(detailed)["details"].startswith("message bus: ")
        proxy_detailed = get_health(urls["novncproxy"])  # from loopback: detailed
        assert proxy_detailed.status_code == 503
        assert bus_reason(proxy_detailed)["details"].startswith("message bus: ")
    finally:
        rabbit_node.start()

    for url in urls.values():
        wait_for_status(url, 200, HEALTHY_WITHIN)
    assert bus_reason(get_health(urls["api"], ADMIN))["reason"] == "OK"
