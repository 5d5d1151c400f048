"""GET /v2.1/os-console-auth-tokens/{token}: admin only, all console types from 2.31."""
import dataclasses
import logging

import pytest

from nova_console.api import console_auth_tokens
from tests.unit.api.conftest import ADMIN, ALICE

TOKENS = "/v2.1/os-console-auth-tokens/"


@pytest.fixture
def console_token(client, make_server, consoleauth_rpc):
    server_id = make_server()
    response = client.post("/v2.1/servers/%s/action" % server_id,
                           {"os-getVNCConsole": {"type": "novnc"}})
    assert response.status_int == 200
    [token] = consoleauth_rpc.tokens
    return token, server_id


def test_an_admin_sees_where_a_token_leads(client, console_token):
    token, server_id = console_token
    response = client.get(TOKENS + token, token=ADMIN, version="2.31")
    assert response.status_int == 200
    assert response.json == {"console": {"instance_uuid": server_id, "host": "10.0.0.5",
                                         "port": 5900, "internal_access_path": None}}


def test_from_2_99_the_tls_port_is_shown(client, console_token):
    token, _server_id = console_token
    response = client.get(TOKENS + token, token=ADMIN, version="2.99")
    assert response.json["console"]["tls_port"] is None
    response = client.get(TOKENS + token, token=ADMIN, version="2.98")
    assert "tls_port" not in response.json["console"]


def test_a_non_admin_may_not_look_tokens_up(client, console_token):
    token, _server_id = console_token
    response = client.get(TOKENS + token, token=ALICE, version="2.31")
    assert response.status_int == 403
    assert response.json["forbidden"]["code"] == 403


def test_an_unknown_token_is_not_found(client):
    response = client.get(TOKENS + "no-such-token", token=ADMIN, version="2.31")
    assert response.status_int == 404
    assert response.json["itemNotFound"]["code"] == 404


def test_before_2_31_only_rdp_tokens_are_shown_as_in_nova(client, console_token):
    token, _server_id = console_token
    response = client.get(TOKENS + token, token=ADMIN, version="2.30")
    assert response.status_int == 401
    assert response.json["unauthorized"]["message"] == (
        "The requested console type details are not accessible")


def test_before_2_31_an_rdp_token_is_shown(client, console_token, consoleauth_rpc):
    token, server_id = console_token
    consoleauth_rpc.tokens[token] = dataclasses.replace(
        consoleauth_rpc.tokens[token], console_type=console_auth_tokens.LEGACY_CONSOLE_TYPE)
    response = client.get(TOKENS + token, token=ADMIN)
    assert response.status_int == 200
    assert response.json["console"]["instance_uuid"] == server_id


def test_a_looked_up_token_never_reaches_the_log(client, console_token, caplog):
    token, _server_id = console_token
    with caplog.at_level(logging.DEBUG):
        client.get(TOKENS + token, token=ADMIN, version="2.31")
        client.get(TOKENS + token, token=ALICE, version="2.31")
    assert caplog.records
    assert all(token not in record.getMessage() for record in caplog.records)
