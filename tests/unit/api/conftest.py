"""Fixtures of the REST API tests: the real WSGI app over the real compute API and a fresh
SQLite database, with the two RPC clients (compute, consoleauth) replaced by fakes."""
import dataclasses
import json

import pytest
import webob

from nova_console.api import app as api_app
from nova_console.api import policy
from nova_console.compute import api as compute_api
from nova_console.compute import manager as compute_manager
from nova_console import connect_info
from nova_console import console_types
from nova_console.db import api as db


COMPUTE_HOST = "compute-1"
ALICE = "alice:tenant-a"
BOB = "bob:tenant-b"
ADMIN = "admin:admin-project"
CONSOLE_URL_BASE = "http://proxy.example.com:6080/vnc_lite.html"
CONSOLE_URL_BASES = {
    "novnc": CONSOLE_URL_BASE, "xvpvnc": "http://proxy.example.com:6081/console",
    "spice-html5": "http://proxy.example.com:6082/spice_auto.html",
    "spice-direct": "http://spice.example.com:13002/nova",
    "serial": "ws://proxy.example.com:6083/", "webmks": "http://mks.example.com:6090/",
}


class FakeComputeRPC:
    """The compute RPC client: records casts; the get_*_console methods and
    get_console_output answer like a host would (a console of every type, its URL as
    console_types.py shapes it), or raise `console_error` / `output_error` when a test
    sets them; reboot_instance raises `reboot_error` when set."""

    def __init__(self):
        self.built = []
        self.terminated = []
        self.rebooted = []
        self.console_error = None
        self.output_error = None
        self.reboot_error = None
        self.issued_tokens = 0
        self.console_output = "line 1\nline 2\n"
        self.output_requests = []

    def build_and_run_instance(self, ctxt, instance):
        self.built.append(instance["uuid"])

    def terminate_instance(self, ctxt, instance):
        self.terminated.append(instance["uuid"])

    def reboot_instance(self, ctxt, instance, reboot_type):
        if self.reboot_error is not None:
            raise self.reboot_error
        self.rebooted.append((instance["uuid"], reboot_type))

    def get_console_output(self, ctxt, instance, tail_length):
        if self.output_error is not None:
            raise self.output_error
        self.output_requests.append((instance["uuid"], tail_length))
        return self.console_output

    def get_vnc_console(self, ctxt, instance, console_type):
        if self.console_error is not None:
            raise self.console_error
        self.issued_tokens += 1
        token = "token-%d" % self.issued_tokens
        base = CONSOLE_URL_BASES[console_type]
        return connect_info.ConnectInfo(
            console_type=console_type, host="10.0.0.5", port=5900, token=token,
            tls_port=5901 if console_type == "spice-direct" else None,
            instance_uuid=instance["uuid"], access_url_base=base,
            access_url=console_types.get(console_type).url(base, token))

    get_spice_console = get_serial_console = get_mks_console = get_vnc_console


class FakeConsoleAuthRPC:
    """The consoleauth RPC client over a dict of tokens."""

    def __init__(self):
        self.tokens = {}

    def authorize_console(self, ctxt, connect_info):
        self.tokens[connect_info.token] = dataclasses.replace(connect_info.without_secrets(),
                                                              expires=0)

    def check_token(self, ctxt, token):
        return self.tokens.get(token)

    def delete_tokens_for_instance(self, ctxt, instance_uuid):
        doomed = [t for t, info in self.tokens.items() if info.instance_uuid == instance_uuid]
        for token in doomed:
            del self.tokens[token]
        return len(doomed)


class Client:
    """Sends webob requests to the app; JSON in and out."""

    def __init__(self, application):
        self.application = application

    def request(self, method, path, token=ALICE, body=None, raw_body=None, version=None,
                headers=None):
        req = webob.Request.blank(path, method=method)
        if token is not None:
            req.headers["X-Auth-Token"] = token
        if version is not None:
            req.headers["X-OpenStack-Nova-API-Version"] = version
        if body is not None:
            raw_body = json.dumps(body).encode("utf-8")
        if raw_body is not None:
            req.body = raw_body
            req.content_type = "application/json"
        for name, value in (headers or {}).items():
            req.headers[name] = value
        return req.get_response(self.application)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(autouse=True)
def fresh_policy(conf):
    """oslo.policy reads [oslo_policy] options from CONF, which `conf` parsed empty."""
    policy.reset()
    yield
    policy.reset()


@pytest.fixture
def compute_rpc():
    return FakeComputeRPC()


@pytest.fixture
def consoleauth_rpc():
    return FakeConsoleAuthRPC()


@pytest.fixture
def compute(database, compute_rpc, consoleauth_rpc):
    """The real compute API with one compute host up."""
    db.service_heartbeat(COMPUTE_HOST, compute_manager.BINARY, topic="compute")
    return compute_api.API(compute_api=compute_rpc, consoleauth_api=consoleauth_rpc)


@pytest.fixture
def client(compute):
    return Client(api_app.make_app(compute_api=compute))


@pytest.fixture
def make_server(client):
    """Creates a server through the API; active=True makes its host report it ACTIVE."""

    def make(token=ALICE, name="vm", active=True):
        response = client.post("/v2.1/servers", {"server": {"name": name}}, token=token)
        assert response.status_int == 202, response.body
        server_id = response.json["server"]["id"]
        if active:
            db.instance_update(server_id, {"vm_state": "active", "task_state": None,
                                           "power_state": 1})
        return server_id

    return make
