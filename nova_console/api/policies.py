"""Default policy rules of the REST API (oslo.policy); operators override them in
policy.yaml. `list_rules` is the `oslo.policy.policies` entry point, so
`oslopolicy-sample-generator --namespace nova_console` documents them.
"""
from oslo_policy import policy

CONTEXT_IS_ADMIN = "context_is_admin"
PROJECT_MEMBER_OR_ADMIN = "project_member_or_admin"

ADMIN = "rule:" + CONTEXT_IS_ADMIN
OWNER_OR_ADMIN = "rule:" + PROJECT_MEMBER_OR_ADMIN

SERVERS_INDEX = "os_compute_api:servers:index"
SERVERS_INDEX_ALL_TENANTS = "os_compute_api:servers:index:get_all_tenants"
SERVERS_DETAIL = "os_compute_api:servers:detail"
SERVERS_DETAIL_ALL_TENANTS = "os_compute_api:servers:detail:get_all_tenants"
SERVERS_SHOW = "os_compute_api:servers:show"
SERVERS_CREATE = "os_compute_api:servers:create"
SERVERS_DELETE = "os_compute_api:servers:delete"
EXTENDED_SERVER_ATTRIBUTES = "os_compute_api:os-extended-server-attributes"
SERVERS_REBOOT = "os_compute_api:servers:reboot"
REMOTE_CONSOLES = "os_compute_api:os-remote-consoles"
CONSOLE_OUTPUT = "os_compute_api:os-console-output"
CONSOLE_AUTH_TOKENS = "os_compute_api:os-console-auth-tokens"
SERVICES_LIST = "os_compute_api:os-services:list"
HYPERVISORS_LIST = "os_compute_api:os-hypervisors:list"
HYPERVISORS_LIST_DETAIL = "os_compute_api:os-hypervisors:list-detail"
HYPERVISORS_SHOW = "os_compute_api:os-hypervisors:show"
INSTANCE_ACTIONS_LIST = "os_compute_api:os-instance-actions:list"
INSTANCE_ACTIONS_SHOW = "os_compute_api:os-instance-actions:show"
INSTANCE_ACTIONS_EVENTS = "os_compute_api:os-instance-actions:events"

_SCOPE = ["project"]

base_rules = [
    policy.RuleDefault(CONTEXT_IS_ADMIN, "role:admin",
                       description="Who counts as an administrator."),
    policy.RuleDefault(PROJECT_MEMBER_OR_ADMIN,
                       "rule:context_is_admin or project_id:%(project_id)s",
                       description="An administrator, or a caller in the project that owns "
                                   "the resource."),
]


def _api_rule(name, check_str, description, method, path):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{"method": method, "path": path}], scope_types=_SCOPE)


server_rules = [
    _api_rule(SERVERS_INDEX, OWNER_OR_ADMIN, "List the servers of a project.",
              "GET", "/servers"),
    _api_rule(SERVERS_INDEX_ALL_TENANTS, ADMIN, "List the servers of every project "
              "(?all_tenants=1).", "GET", "/servers"),
    _api_rule(SERVERS_DETAIL, OWNER_OR_ADMIN, "List the servers of a project, with details.",
              "GET", "/servers/detail"),
    _api_rule(SERVERS_DETAIL_ALL_TENANTS, ADMIN, "List the servers of every project, with "
              "details (?all_tenants=1).", "GET", "/servers/detail"),
    _api_rule(SERVERS_SHOW, OWNER_OR_ADMIN, "Show a server.", "GET", "/servers/{server_id}"),
    _api_rule(SERVERS_CREATE, OWNER_OR_ADMIN, "Create a server.", "POST", "/servers"),
    _api_rule(SERVERS_DELETE, OWNER_OR_ADMIN, "Delete a server.",
              "DELETE", "/servers/{server_id}"),
    _api_rule(SERVERS_REBOOT, OWNER_OR_ADMIN, "Reboot a server.",
              "POST", "/servers/{server_id}/action (reboot)"),
    _api_rule(EXTENDED_SERVER_ATTRIBUTES, ADMIN, "Show a server's compute host "
              "(OS-EXT-SRV-ATTR:host) in server details.", "GET", "/servers/{server_id}"),
]

console_rules = [
    policy.DocumentedRuleDefault(
        name=REMOTE_CONSOLES, check_str=OWNER_OR_ADMIN,
        description="Get a remote console URL of a server.",
        operations=[{"method": "POST", "path": "/servers/{server_id}/action (os-getVNCConsole)"},
                    {"method": "POST", "path": "/servers/{server_id}/action (os-getSPICEConsole)"},
                    {"method": "POST", "path": "/servers/{server_id}/action (os-getRDPConsole)"},
                    {"method": "POST",
                     "path": "/servers/{server_id}/action (os-getSerialConsole)"},
                    {"method": "POST", "path": "/servers/{server_id}/remote-consoles"}],
        scope_types=_SCOPE),
    _api_rule(CONSOLE_OUTPUT, OWNER_OR_ADMIN, "Show the tail of a server's console log.",
              "POST", "/servers/{server_id}/action (os-getConsoleOutput)"),
    _api_rule(CONSOLE_AUTH_TOKENS, ADMIN, "Show where a console token leads (instance, host, "
              "port).", "GET", "/os-console-auth-tokens/{console_token}"),
]


admin_rules = [
    _api_rule(SERVICES_LIST, ADMIN, "List the services (compute hosts, consoleauth workers) "
              "and whether they are up.", "GET", "/os-services"),
    _api_rule(HYPERVISORS_LIST, ADMIN, "List the hypervisors (compute hosts).",
              "GET", "/os-hypervisors"),
    _api_rule(HYPERVISORS_LIST_DETAIL, ADMIN, "List the hypervisors with details.",
              "GET", "/os-hypervisors/detail"),
    _api_rule(HYPERVISORS_SHOW, ADMIN, "Show a hypervisor.",
              "GET", "/os-hypervisors/{hypervisor_id}"),
]

instance_action_rules = [
    _api_rule(INSTANCE_ACTIONS_LIST, OWNER_OR_ADMIN, "List the actions of a server.",
              "GET", "/servers/{server_id}/os-instance-actions"),
    _api_rule(INSTANCE_ACTIONS_SHOW, OWNER_OR_ADMIN, "Show an action of a server.",
              "GET", "/servers/{server_id}/os-instance-actions/{request_id}"),
    _api_rule(INSTANCE_ACTIONS_EVENTS, ADMIN, "Show the events of a server action before "
              "microversion 2.51 (from 2.51 everyone who may see the action sees them).",
              "GET", "/servers/{server_id}/os-instance-actions/{request_id}"),
]


def list_rules():
    return (base_rules + server_rules + console_rules + admin_rules
            + instance_action_rules)
