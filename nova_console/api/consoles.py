"""Console URLs of a server, the two ways Nova offers them.

    POST /v2.1/servers/{id}/action  {"os-getVNCConsole": {"type": "novnc"}}    (any version)
        -> 200 {"console": {"type", "url"}}
    POST /v2.1/servers/{id}/remote-consoles
         {"remote_console": {"protocol": "vnc", "type": "novnc"}}              (>= 2.6)
        -> 200 {"remote_console": {"protocol", "type", "url"}}

    POST /v2.1/servers/{id}/action  {"os-getConsoleOutput": {"length": 50}}    (any version)
        -> 200 {"output": "<the last 50 lines the guest wrote to its serial port>"}

Bodies are checked with Nova's schemas (schemas.py, built from console_types.py's
table of console types, their actions, protocols and microversions
(os-getSPICEConsole, os-getSerialConsole; webmks from 2.8, spice-direct from 2.99).
RDP, which Nova no longer serves, is a valid request answered 400 with the reason;
so is a type the server's host has turned off or its driver cannot give. The action
URL is shared by every server action: those that are not about consoles (reboot) go
to servers.ServersController.
"""
from oslo_log import log as logging

from nova_console.api import auth
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import schemas
from nova_console.api import servers
from nova_console.api import validation
from nova_console.api import wsgi
from nova_console import console_types
from nova_console import exception

LOG = logging.getLogger(__name__)

CONSOLE_OUTPUT_ACTION = "os-getConsoleOutput"


def _validate_action_body(body):
    """The action name of a server action body: an object with one key."""
    if not isinstance(body, dict):
        raise exception.Invalid(message="Malformed request body: an action is a JSON object "
                                        "such as {\"os-getVNCConsole\": {\"type\": "
                                        "\"novnc\"}}.")
    if len(body) != 1:
        raise exception.Invalid(message="Malformed request body: an action body has exactly "
                                        "one key, the action name (got %d)." % len(body))
    return next(iter(body))


def _console_output_length(req, body):
    """The number of lines os-getConsoleOutput asks for; None for all of them."""
    length = validation.validate(req, body, schemas.CONSOLE_OUTPUT)[
        CONSOLE_OUTPUT_ACTION].get("length")
    if length is None:
        return None
    # A string of digits passes the schema's "minimum", which applies to numbers only.
    if int(length) < -1:
        raise validation.invalid_input("length", length, "%s is less than the minimum of -1"
                                       % length)
    return None if int(length) == -1 else int(length)


class ConsolesController:

    def __init__(self, compute_api):
        self.compute_api = compute_api
        # Server actions of other controllers, by name.
        self.server_actions = {"reboot": servers.ServersController(compute_api).reboot}

    def action(self, req, server_id):
        """POST /servers/{id}/action: the console actions, and the other server actions
        (handler(req, server_id, body)); an unknown action is a 400."""
        body = wsgi.read_json_body(req)
        action = _validate_action_body(body)
        if action in self.server_actions:
            return self.server_actions[action](req, server_id, body)
        if action == CONSOLE_OUTPUT_ACTION:
            return self._console_output(req, server_id, body)
        if action not in schemas.CONSOLE_ACTIONS:
            raise exception.Invalid(message="There is no such action: %s" % action)
        console_type = validation.validate(req, body, schemas.CONSOLE_ACTIONS[action])[
            action]["type"]
        instance = self._authorized_instance(req, server_id)
        console = self._get_console(req, instance, console_type)
        return wsgi.json_response({"console": {"type": console_type, "url": console["url"]}})

    def _console_output(self, req, server_id, body):
        length = _console_output_length(req, body)
        instance = self._authorized_instance(req, server_id, policies.CONSOLE_OUTPUT)
        output = self.compute_api.get_console_output(auth.get_context(req), instance, length)
        return wsgi.json_response({"output": output})

    def create_remote_console(self, req, server_id):
        """POST /servers/{id}/remote-consoles (microversion >= 2.6)."""
        request = validation.validate(req, wsgi.read_json_body(req),
                                      schemas.REMOTE_CONSOLE_CREATE)["remote_console"]
        protocol, console_type = request["protocol"], request["type"]
        instance = self._authorized_instance(req, server_id)
        if console_types.get(console_type).protocol != protocol:
            raise exception.ConsoleTypeInvalid(console_type=console_type)
        console = self._get_console(req, instance, console_type)
        return wsgi.json_response({"remote_console": {
            "protocol": protocol, "type": console_type, "url": console["url"]}})

    def _authorized_instance(self, req, server_id, rule=policies.REMOTE_CONSOLES):
        context = auth.get_context(req)
        instance = self.compute_api.get(context, server_id)
        policy.authorize(context, rule, {"project_id": instance["project_id"]})
        return instance

    def _get_console(self, req, instance, console_type):
        gone = console_types.get(console_type).gone
        if gone:
            raise exception.ConsoleTypeUnavailable(gone, console_type=console_type)
        console = self.compute_api.get_console(auth.get_context(req), instance, console_type)
        LOG.info("Gave a %s console of server %s", console_type, instance["uuid"])
        return console
