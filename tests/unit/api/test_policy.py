"""Policy defaults (owner or admin; admin for token lookup) and operator overrides."""
import pytest

from nova_console.api import auth
from nova_console.api import policies
from nova_console.api import policy
from nova_console import conf as nc_conf
from nova_console import exception
from tests.unit.api.conftest import ALICE

CONF = nc_conf.CONF

OWNER_RULES = (policies.REMOTE_CONSOLES, policies.SERVERS_SHOW, policies.SERVERS_DELETE,
               policies.SERVERS_CREATE, policies.SERVERS_INDEX, policies.SERVERS_DETAIL)
ADMIN_RULES = (policies.CONSOLE_AUTH_TOKENS, policies.SERVERS_INDEX_ALL_TENANTS,
               policies.SERVERS_DETAIL_ALL_TENANTS, policies.EXTENDED_SERVER_ATTRIBUTES)


@pytest.mark.parametrize("rule", OWNER_RULES)
def test_owner_rules_allow_the_owner_and_an_admin_only(rule):
    alice = auth.context_from_token("alice:tenant-a")
    admin = auth.context_from_token("admin:ops")
    assert policy.check(alice, rule, {"project_id": "tenant-a"})
    assert not policy.check(alice, rule, {"project_id": "tenant-b"})
    assert policy.check(admin, rule, {"project_id": "tenant-b"})


@pytest.mark.parametrize("rule", ADMIN_RULES)
def test_admin_rules_refuse_a_project_member(rule):
    alice = auth.context_from_token("alice:tenant-a")
    assert not policy.check(alice, rule, {"project_id": "tenant-a"})
    assert policy.check(auth.context_from_token("admin:ops"), rule, {"project_id": "ops"})


def test_authorize_raises_forbidden():
    alice = auth.context_from_token("alice:tenant-a")
    with pytest.raises(exception.Forbidden) as raised:
        policy.authorize(alice, policies.CONSOLE_AUTH_TOKENS, {"project_id": "tenant-a"})
    assert raised.value.code == 403


def test_list_rules_registers_every_rule_the_api_checks():
    names = {rule.name for rule in policies.list_rules()}
    assert set(OWNER_RULES + ADMIN_RULES) <= names


def test_an_operator_policy_file_can_make_consoles_admin_only(client, make_server, tmp_path):
    server_id = make_server()
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"os_compute_api:os-remote-consoles": "role:admin"\n')
    CONF.set_override("policy_file", str(policy_file), group="oslo_policy")
    policy.reset()
    try:
        response = client.post("/v2.1/servers/%s/action" % server_id,
                               {"os-getVNCConsole": {"type": "novnc"}}, token=ALICE)
    finally:
        CONF.clear_override("policy_file", group="oslo_policy")
        policy.reset()
    assert response.status_int == 403
    assert response.json["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-remote-consoles to be performed.")
