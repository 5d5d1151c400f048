"""GET /v2.1/os-console-auth-tokens/{token}: where a console token leads (admin only).

    -> 200 {"console": {"instance_uuid", "host", "port", "internal_access_path"}}
       (from 2.99 also "tls_port", as in Nova)

Before microversion 2.31 Nova answered only for rdp-html5 tokens and refused any other
console type with 401 "The requested console type details are not accessible"; we
keep that answer. Tokens are secrets: they never appear in a log line, only their
masked hash (utils.mask_token).
"""
from oslo_log import log as logging

from nova_console.api import auth
from nova_console.api import microversion
from nova_console.api import policies
from nova_console.api import policy
from nova_console.api import wsgi
from nova_console import utils

LOG = logging.getLogger(__name__)

ALL_CONSOLE_TYPES_MIN_VERSION = "2.31"
LEGACY_CONSOLE_TYPE = "rdp-html5"
PUBLIC_FIELDS = ("instance_uuid", "host", "port", "internal_access_path")
TLS_PORT_MIN_VERSION = "2.99"


class ConsoleAuthTokensController:

    def __init__(self, compute_api):
        self.compute_api = compute_api

    def show(self, req, token):
        context = auth.get_context(req)
        policy.authorize(context, policies.CONSOLE_AUTH_TOKENS,
                         {"project_id": context.project_id})
        connect_info = self.compute_api.get_console_connect_info(context, token)
        if (not microversion.is_supported(req, ALL_CONSOLE_TYPES_MIN_VERSION) and
                connect_info.console_type != LEGACY_CONSOLE_TYPE):
            raise wsgi.Unauthorized(
                message="The requested console type details are not accessible")
        LOG.info("Console token %s of instance %s looked up", utils.mask_token(token),
                 connect_info.instance_uuid)
        console = {field: getattr(connect_info, field) for field in PUBLIC_FIELDS}
        if microversion.is_supported(req, TLS_PORT_MIN_VERSION):
            console["tls_port"] = connect_info.tls_port
        return wsgi.json_response({"console": console})
