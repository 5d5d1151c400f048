"""/healthcheck of the API (oslo.middleware's Healthcheck with our message-bus and database
checks), its probes, and the API's links behind a TLS-terminating proxy."""
import socket
import threading
import time

import pytest

from nova_console.api import app as api_app
from nova_console.api import policy
from nova_console.compute import api as compute_api
from nova_console.db import api as db_api
from nova_console import health
from nova_console import rpc
from tests.unit.api.conftest import ADMIN, ALICE, Client, FakeComputeRPC, FakeConsoleAuthRPC

JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def fresh_state(conf):
    policy.reset()
    health.reset()
    yield
    health.reset()
    policy.reset()
    rpc.cleanup()


@pytest.fixture
def make_client(database):
    """A client of the real API app, made after the test set its options."""

    def make():
        compute = compute_api.API(compute_api=FakeComputeRPC(),
                                  consoleauth_api=FakeConsoleAuthRPC())
        return Client(api_app.make_app(compute_api=compute))

    return make


@pytest.fixture
def client(fake_transport, make_client):
    return make_client()


def closed_port():
    """A local TCP port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_down(conf):
    """The process' transport points at a broker that refuses connections."""
    rpc.cleanup()
    rpc.init(url="rabbit://guest:s3cret@127.0.0.1:%d/" % closed_port())


@pytest.fixture
def silent_broker(conf):
    """The process' transport points at a broker that takes the TCP connection and
    never answers; backend_timeout is 0.5 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    conf.set_override("backend_timeout", 0.5, group="healthcheck")
    rpc.cleanup()
    rpc.init(url="rabbit://guest:guest@127.0.0.1:%d/" % listener.getsockname()[1])
    yield
    listener.close()


def health_get(client, token=None, headers=None, method="GET"):
    return client.request(method, "/healthcheck", token=token, headers=headers)


def reasons(response):
    return {reason["class"]: reason for reason in response.json["reasons"]}


# -- the simple view, for anyone --------------------------------------------------------

def test_healthcheck_answers_200_ok_without_authentication(client):
    response = health_get(client)
    assert response.status_int == 200
    assert response.text.split() == ["OK", "OK"]  # one line per check


def test_healthcheck_head_answers_204_without_a_body(client):
    response = health_get(client, method="HEAD")
    assert response.status_int == 204
    assert response.body == b""


def test_healthcheck_answers_before_the_request_body_and_route_checks(client):
    response = client.request("GET", "/healthcheck/", token=None)
    assert response.status_int == 200
    assert client.request("POST", "/healthcheck", token=None).status_int == 401


def test_healthcheck_responses_carry_a_request_id(client):
    assert health_get(client).headers["X-OpenStack-Request-ID"].startswith("req-")


def test_broker_down_answers_503_and_the_simple_view_keeps_the_reason(broker_down,
                                                                      make_client):
    response = health_get(make_client(), headers=JSON)
    assert response.status_int == 503
    assert response.json == {"detailed": False, "reasons": ["UNAVAILABLE", "OK"]}
    assert "refused" not in response.text.lower()


# -- the detailed view, for administrators ----------------------------------------------

def test_a_password_in_a_transport_url_never_reaches_the_detailed_view():
    error = ConnectionError("cannot reach rabbit://nova:s3cret@rabbit.example.com:5672/")
    described = health.describe_bus_error(error)
    assert "s3cret" not in described
    assert "rabbit://nova:***@rabbit.example.com:5672/" in described


def test_broker_down_detailed_view_for_admin_says_why(broker_down, make_client):
    response = health_get(make_client(), token=ADMIN, headers=JSON)
    assert response.status_int == 503
    assert response.json["detailed"] is True
    bus = reasons(response)["MessageBusResult"]
    assert bus["reason"] == "UNAVAILABLE"
    assert "message bus" in bus["details"] and "refused" in bus["details"].lower()
    assert "s3cret" not in response.text
    assert reasons(response)["DatabaseResult"]["reason"] == "OK"


def test_detailed_view_is_refused_to_non_admins(client):
    response = health_get(client, token=ALICE, headers=JSON)
    assert response.status_int == 200
    assert response.json == {"detailed": False, "reasons": ["OK", "OK"]}
    assert "threads" not in response.json


def test_detailed_view_of_a_healthy_api_shows_each_check(client):
    response = health_get(client, token=ADMIN, headers=JSON)
    assert response.status_int == 200
    checks = reasons(response)
    assert checks["MessageBusResult"]["details"].startswith("message bus answered in")
    assert checks["DatabaseResult"]["details"].startswith("database answered in")
    assert response.json["threads"]


def test_policy_decides_who_gets_the_detailed_view(conf, client, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"context_is_admin": "role:auditor"\n')
    conf.set_override("policy_file", str(policy_file), group="oslo_policy")
    response = health_get(client, token=ADMIN, headers=JSON)
    assert response.json["detailed"] is False


def test_detailed_option_gives_everyone_the_detailed_view(conf, fake_transport, make_client):
    conf.set_override("detailed", True, group="healthcheck")
    response = health_get(make_client(), headers=JSON)
    assert response.json["detailed"] is True


def test_database_down_answers_503_with_the_driver_message(conf, fake_transport,
                                                           make_client, tmp_path):
    client = make_client()
    conf.set_override("connection", "sqlite:///%s" % (tmp_path / "gone" / "db.sqlite"),
                      group="database")
    db_api.dispose_engine()
    response = health_get(client, token=ADMIN, headers=JSON)
    assert response.status_int == 503
    details = reasons(response)["DatabaseResult"]["details"]
    assert details.startswith("database: ") and "unable to open database file" in details


# -- bounds: a silent broker, disable_by_file, the cache ---------------------------------

def test_a_silent_broker_answers_503_within_backend_timeout(silent_broker, make_client):
    client = make_client()
    started = time.monotonic()
    response = health_get(client, token=ADMIN, headers=JSON)
    assert time.monotonic() - started < 2.0
    assert response.status_int == 503
    assert reasons(response)["MessageBusResult"]["details"] == (
        "message bus: no answer within 0.5 s")


def test_disable_by_file_drains_the_api(conf, fake_transport, make_client, tmp_path):
    flag = tmp_path / "disabled"
    conf.set_override("backends", ["disable_by_file"], group="healthcheck")
    conf.set_override("disable_by_file_path", str(flag), group="healthcheck")
    client = make_client()
    assert health_get(client).status_int == 200
    flag.touch()
    response = health_get(client)
    assert response.status_int == 503
    assert "DISABLED BY FILE" in response.text
    flag.unlink()
    assert health_get(client).status_int == 200


def test_our_checks_named_in_backends_are_checked_once(conf, fake_transport, make_client):
    conf.set_override("backends", ["nova_console_message_bus", "nova_console_database"],
                      group="healthcheck")
    response = health_get(make_client(), token=ADMIN, headers=JSON)
    assert sorted(reasons(response)) == ["DatabaseResult", "MessageBusResult"]
    assert len(response.json["reasons"]) == 2


class CountingPing:
    """A dependency that counts its questions; blocks while `gate` is clear."""

    def __init__(self, fail=False):
        self.calls = 0
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self):
        self.calls += 1
        self.gate.wait(5)
        if self.fail:
            raise ConnectionError("down")


def make_probe(ping):
    return health.Probe("thing", ping, str, health.MessageBusResult)


def test_a_health_check_storm_asks_the_dependency_once_per_cache_interval(conf):
    conf.set_override("backend_cache_time", 60, group="healthcheck")
    ping = CountingPing()
    probe = make_probe(ping)
    results = [probe.result() for _ in range(50)]
    assert ping.calls == 1
    assert all(result.available for result in results)


def test_concurrent_checks_share_the_one_question_in_flight(conf):
    ping = CountingPing()
    ping.gate.clear()
    probe = make_probe(ping)
    results = []
    callers = [threading.Thread(target=lambda: results.append(probe.result()))
               for _ in range(10)]
    for caller in callers:
        caller.start()
    ping.gate.set()
    for caller in callers:
        caller.join(5)
    assert ping.calls == 1
    assert len(results) == 10 and all(result.available for result in results)


def test_an_expired_answer_is_asked_again(conf):
    conf.set_override("backend_cache_time", 0, group="healthcheck")
    ping = CountingPing(fail=True)
    probe = make_probe(ping)
    assert not probe.result().available
    ping.fail = False
    assert probe.result().available
    assert ping.calls == 2


def test_a_question_stuck_past_timeout_and_cache_is_asked_again(conf):
    """A dependency whose first question never returns (a broker gone silent) is
    UNAVAILABLE meanwhile, and healthy again once it answers a new one."""
    conf.set_override("backend_timeout", 0.2, group="healthcheck")
    conf.set_override("backend_cache_time", 3, group="healthcheck")  # stale after 3.2 s
    stuck = threading.Event()

    def ping():
        if not stuck.is_set():
            stuck.set()
            threading.Event().wait(30)  # the first question never returns in the test

    probe = make_probe(ping)
    assert not probe.result().available
    assert not probe.result().available  # still in flight: not asked twice at once
    deadline = time.monotonic() + 10
    while not probe.result().available:
        assert time.monotonic() < deadline, "the stuck question was never abandoned"


# -- http_proxy_to_wsgi: links behind a TLS terminator -----------------------------------

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}


@pytest.fixture
def proxied_client(conf, fake_transport, make_client):
    conf.set_override("enable_proxy_headers_parsing", True, group="oslo_middleware")
    return make_client()


def test_version_document_links_use_the_forwarded_scheme_and_host(proxied_client):
    version = proxied_client.get("/v2.1", token=None, headers=FORWARDED).json["version"]
    assert {"rel": "self", "href": "https://api.example.com/v2.1/"} in version["links"]


def test_server_links_use_the_rfc7239_forwarded_header(proxied_client):
    headers = {"Forwarded": "for=192.0.2.60;proto=https;host=cloud.example.org"}
    created = proxied_client.post("/v2.1/servers", {"server": {"name": "vm"}}, token=ALICE,
                                  headers=headers)
    server_id = created.json["server"]["id"]
    assert created.headers["Location"] == (
        "https://cloud.example.org/v2.1/servers/%s" % server_id)
    links = proxied_client.get("/v2.1/servers/%s" % server_id, token=ALICE,
                               headers=headers).json["server"]["links"]
    assert {link["href"] for link in links} == {
        "https://cloud.example.org/v2.1/servers/%s" % server_id,
        "https://cloud.example.org/servers/%s" % server_id}


def test_forwarded_headers_are_ignored_unless_enabled(client):
    version = client.get("/v2.1", token=None, headers=FORWARDED).json["version"]
    assert {"rel": "self", "href": "http://localhost/v2.1/"} in version["links"]
