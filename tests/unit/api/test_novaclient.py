"""python-novaclient, as a library, against the app served over real HTTP (wsgiref)."""
import threading
from wsgiref import simple_server

import pytest
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import novaclient
from novaclient import api_versions
from novaclient import client as nova_client
from novaclient import exceptions as nova_exceptions

from nova_console.api import app as api_app
from nova_console import exception

SERVER_ID = "5f1e2a8c-3b9d-4c6e-8f7a-0b1c2d3e4f5a"
CONSOLE_URL = "http://proxy.example.com:6080/vnc_lite.html?path=%3Ftoken%3Dabc"


class FakeComputeAPI:
    """One active server in the project noauth2 gives to a "notused" token."""

    def __init__(self):
        self.console_requests = []

    def get(self, context, instance_uuid):
        if instance_uuid != SERVER_ID or context.project_id != "demo":
            raise exception.InstanceNotFound(instance_id=instance_uuid)
        return {"uuid": SERVER_ID, "project_id": "demo", "host": "compute-1",
                "vm_state": "active", "task_state": None}

    def get_console(self, context, instance, console_type):
        self.console_requests.append((context.user_id, instance["uuid"], console_type))
        return {"type": console_type, "url": CONSOLE_URL}


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def compute():
    return FakeComputeAPI()


@pytest.fixture
def endpoint(compute):
    server = simple_server.make_server("127.0.0.1", 0, api_app.make_app(compute),
                                       handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/v2.1" % server.server_port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def novaclient_for(endpoint, version):
    session = ks_session.Session(auth=noauth.NoAuth(endpoint=endpoint))
    return nova_client.Client(version, session=session, endpoint_override=endpoint)


def test_novaclient_settles_on_its_own_maximum_below_ours(endpoint):
    client = novaclient_for(endpoint, "2.1")
    version = api_versions.discover_version(client, api_versions.APIVersion("2.latest"))
    assert version == min(api_versions.APIVersion("2.99"),
                          api_versions.APIVersion(novaclient.API_MAX_VERSION.get_string()))


@pytest.mark.parametrize("version", ["2.5", "2.96"])
def test_novaclient_gets_a_vnc_console(endpoint, compute, version):
    client = novaclient_for(endpoint, version)
    console = client.servers.get_vnc_console(SERVER_ID, "novnc")
    key = "console" if version == "2.5" else "remote_console"
    assert console[key]["type"] == "novnc"
    assert console[key]["url"] == CONSOLE_URL
    assert compute.console_requests == [("demo", SERVER_ID, "novnc")]


def test_novaclient_sees_an_unknown_server_as_not_found(endpoint):
    client = novaclient_for(endpoint, "2.96")
    with pytest.raises(nova_exceptions.NotFound) as raised:
        client.servers.get_vnc_console("8c8c7a0e-4f3e-4a43-8a1b-4a8d5f0f1e2d", "novnc")
    assert "could not be found" in str(raised.value)


@pytest.mark.parametrize("method,console_type,version", [
    ("get_spice_console", "spice-html5", "2.5"), ("get_spice_console", "spice-html5", "2.96"),
    ("get_serial_console", "serial", "2.5"), ("get_serial_console", "serial", "2.96"),
    ("get_mks_console", "webmks", "2.8"),
])
def test_novaclient_gets_spice_serial_and_mks_consoles(endpoint, compute, method,
                                                       console_type, version):
    client = novaclient_for(endpoint, version)
    console = getattr(client.servers, method)(SERVER_ID, *(
        (console_type,) if method != "get_mks_console" else ()))
    body = console.get("remote_console") or console["console"]
    assert (body["type"], body["url"]) == (console_type, CONSOLE_URL)
    assert compute.console_requests == [("demo", SERVER_ID, console_type)]


def test_novaclient_sees_rdp_as_bad_request(endpoint, compute):
    client = novaclient_for(endpoint, "2.96")
    with pytest.raises(nova_exceptions.BadRequest) as raised:
        client.servers.get_rdp_console(SERVER_ID, "rdp-html5")
    assert "RDP consoles are no longer available" in str(raised.value)
    assert compute.console_requests == []
