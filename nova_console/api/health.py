"""/healthcheck of nova-console-api, answered before authentication.

Anyone (a load balancer, a monitoring probe) gets the simple view: 200 "OK", or 503
when the process is disabled by file, the message bus does not take a message, or the
database does not answer SELECT 1 (nova_console/health.py). A caller whose X-Auth-Token
the API's own authentication ([api] auth_strategy) makes an administrator (policy rule
context_is_admin) gets the detailed view: why a check failed, the process' threads.
A caller it refuses, or does not make an administrator, gets the simple view, never an
error: a health check always answers.
"""
import webob

from nova_console.api import auth
from nova_console.api import policies
from nova_console.api import policy
from nova_console import conf as nc_conf
from nova_console import exception
from nova_console import health

CONF = nc_conf.CONF

CHECKS = (health.MessageBusHealthcheck, health.DatabaseHealthcheck)


def _no_content(environ, start_response):
    """The end of the identification of a caller: nothing to answer."""
    return webob.Response(status=204)(environ, start_response)


class AdminGetsDetails:
    """shows_details of the API: whether the API's authentication ([api]
    auth_strategy, made once) and its policy make the caller an administrator."""

    def __init__(self):
        self._identify = auth.auth_middleware(CONF.api.auth_strategy)(_no_content)

    def __call__(self, req):
        if not req.headers.get("X-Auth-Token"):
            return False
        environ = dict(req.environ)  # the caller's context lands here, not in `req`
        try:
            webob.Request(environ).get_response(self._identify)
        except exception.NovaConsoleException:  # refused (401): not an administrator
            return False
        context = environ.get(auth.ENV_CONTEXT)
        return context is not None and policy.check(context, policies.CONTEXT_IS_ADMIN, {})


def healthcheck_middleware(application):
    """`application` with /healthcheck answered in front of it (module docstring)."""
    return health.HealthcheckEndpoint(application, CHECKS, AdminGetsDetails())
