"""The middleware chain: request ids, body limit, authentication, routing, faults."""
import io
import logging
import re

import pytest
import webob

from nova_console.api import app as api_app
from nova_console.api import auth
from nova_console import conf as nc_conf
from tests.unit.api.conftest import ADMIN, ALICE

CONF = nc_conf.CONF
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class ExplodingComputeAPI:
    """A compute API whose every call is a bug."""

    def get_all(self, context, **kwargs):
        raise KeyError("secret-internal-detail")


def test_every_response_carries_one_nova_request_id(client):
    for response in (client.get("/v2.1/servers"), client.get("/v2.1/nowhere"),
                     client.get("/v2.1/servers", token=None), client.get("/")):
        request_id = response.headers["X-OpenStack-Request-ID"]
        assert REQUEST_ID.match(request_id)
        assert response.headers["x-compute-request-id"] == request_id


def test_each_request_gets_its_own_id(client):
    first = client.get("/v2.1/servers").headers["X-OpenStack-Request-ID"]
    second = client.get("/v2.1/servers").headers["X-OpenStack-Request-ID"]
    assert first != second


def test_a_missing_auth_token_is_refused_with_401(client):
    response = client.get("/v2.1/servers", token=None)
    assert response.status_int == 401
    assert response.json["unauthorized"]["code"] == 401


def test_noauth2_user_project_token_names_the_caller():
    context = auth.context_from_token("alice:tenant-a", request_id="req-1")
    assert (context.user_id, context.project_id) == ("alice", "tenant-a")
    assert not context.is_admin and "admin" not in context.roles
    assert context.request_id == "req-1"


def test_noauth2_admin_user_is_an_admin():
    context = auth.context_from_token("admin:ops")
    assert context.is_admin and "admin" in context.roles
    assert context.project_id == "ops"


@pytest.mark.parametrize("token", ["notused", "admin", "a:b:c", ":p", "u:"])
def test_noauth2_any_other_token_acts_as_the_default_user(token):
    CONF.set_override("noauth2_default_user", "dflt-user", group="api")
    CONF.set_override("noauth2_default_project", "dflt-project", group="api")
    try:
        context = auth.context_from_token(token)
    finally:
        CONF.clear_override("noauth2_default_user", group="api")
        CONF.clear_override("noauth2_default_project", group="api")
    assert (context.user_id, context.project_id) == ("dflt-user", "dflt-project")
    assert not context.is_admin


def test_the_context_carries_the_request_id_of_the_response(compute):
    seen = []

    class Recorder:
        def get_all(self, context, **kwargs):
            seen.append(context)
            return []

    response = webob.Request.blank("/v2.1/servers", headers={"X-Auth-Token": ALICE}
                                   ).get_response(api_app.make_app(Recorder()))
    assert response.status_int == 200
    assert seen[0].request_id == response.headers["X-OpenStack-Request-ID"]


def test_a_well_formed_inbound_request_id_becomes_the_global_request_id(compute):
    seen = []

    class Recorder:
        def get_all(self, context, **kwargs):
            seen.append(context)
            return []

    inbound = "req-8c8c7a0e-4f3e-4a43-8a1b-4a8d5f0f1e2d"
    webob.Request.blank("/v2.1/servers", headers={
        "X-Auth-Token": ALICE, "X-OpenStack-Request-ID": inbound}).get_response(
        api_app.make_app(Recorder()))
    assert seen[0].global_request_id == inbound
    assert seen[0].request_id != inbound


def test_an_unknown_path_is_a_json_404(client):
    for path in ("/v2.1/nowhere", "/v2/servers", "/v2.1/servers/x/y/z"):
        response = client.get(path)
        assert response.status_int == 404
        assert response.json["itemNotFound"]["code"] == 404


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client):
    response = client.request("PUT", "/v2.1/servers")
    assert response.status_int == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.json["badMethod"]["code"] == 405


def test_a_trailing_slash_is_tolerated(client):
    assert client.get("/v2.1/servers/").status_int == 200


def test_a_body_over_the_limit_is_refused_with_413(client):
    CONF.set_override("max_request_body_size", 64, group="api")
    try:
        response = client.post("/v2.1/servers", {"server": {"name": "x" * 100}})
    finally:
        CONF.clear_override("max_request_body_size", group="api")
    assert response.status_int == 413
    assert response.json["overLimit"]["code"] == 413


def test_a_streamed_body_over_the_limit_is_refused_with_413(client):
    CONF.set_override("max_request_body_size", 64, group="api")
    req = webob.Request.blank("/v2.1/servers", method="POST",
                              headers={"X-Auth-Token": ALICE})
    req.environ["wsgi.input"] = io.BytesIO(b'{"server": {"name": "%s"}}' % (b"x" * 100))
    req.environ.pop("CONTENT_LENGTH", None)
    req.environ["wsgi.input_terminated"] = True
    try:
        response = req.get_response(client.application)
    finally:
        CONF.clear_override("max_request_body_size", group="api")
    assert response.status_int == 413


def test_a_body_under_the_limit_passes(client):
    CONF.set_override("max_request_body_size", 64, group="api")
    try:
        response = client.post("/v2.1/servers", {"server": {"name": "short"}})
    finally:
        CONF.clear_override("max_request_body_size", group="api")
    assert response.status_int == 202


def test_an_unexpected_exception_is_a_logged_500_compute_fault(database, caplog):
    application = api_app.make_app(ExplodingComputeAPI())
    with caplog.at_level(logging.ERROR):
        response = webob.Request.blank("/v2.1/servers", headers={"X-Auth-Token": ALICE}
                                       ).get_response(application)
    assert response.status_int == 500
    assert response.content_type == "application/json"
    assert response.json["computeFault"]["code"] == 500
    assert b"secret-internal-detail" not in response.body
    assert b"Traceback" not in response.body
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info[0] is KeyError


@pytest.mark.parametrize("path", ["/v2.1/os-console-auth-tokens/very-secret-token",
                                  "/v2.1/os-console-auth-tokens/very-secret-token/",
                                  "/v2.1//os-console-auth-tokens/very-secret-token"])
def test_the_access_log_masks_console_tokens(client, caplog, path):
    with caplog.at_level(logging.INFO, logger="nova_console.api.app"):
        client.get(path, token=ADMIN, version="2.31")
    lines = [r.getMessage() for r in caplog.records if r.name == "nova_console.api.app"]
    assert any("/os-console-auth-tokens/sha256:" in line for line in lines)
    assert not any("very-secret-token" in line for line in lines)


@pytest.mark.parametrize("method,path", [("GET", "/v2.1/servers/%ff"),
                                         ("POST", "/v2.1/servers/%ff/action"),
                                         ("GET", "/v2.1/os-console-auth-tokens/%c3%28")])
def test_a_path_that_is_not_utf8_is_a_404_not_a_crash(client, method, path):
    response = client.request(method, path)
    assert response.status_int == 404
    assert response.json["itemNotFound"]["code"] == 404
