"""noauth2: the caller is whoever the X-Auth-Token names; for development and trusted
networks only (see [api] auth_strategy).

- "user:project" acts as that user in that project; the user "admin" is an admin.
- any other token (OpenStack clients send "notused" without Keystone) acts as
  [api] noauth2_default_user in [api] noauth2_default_project.
- no token at all is refused (401).
"""
import webob.dec

from nova_console.api import wsgi
from nova_console import conf as nc_conf
from nova_console import context as nc_context

CONF = nc_conf.CONF

ENV_CONTEXT = "nova_console.context"
ENV_REQUEST_ID = "nova_console.request_id"
ENV_GLOBAL_REQUEST_ID = "nova_console.global_request_id"

ADMIN_USER = "admin"
ADMIN_ROLES = ["admin", "member", "reader"]
MEMBER_ROLES = ["member", "reader"]


def caller_from_token(token):
    """(user_id, project_id) named by a noauth2 token."""
    user_id, sep, project_id = token.partition(":")
    if sep and user_id and project_id and ":" not in project_id:
        return user_id, project_id
    return CONF.api.noauth2_default_user, CONF.api.noauth2_default_project


def context_from_token(token, request_id=None, global_request_id=None):
    user_id, project_id = caller_from_token(token)
    is_admin = user_id == ADMIN_USER
    return nc_context.RequestContext(
        user_id=user_id, project_id=project_id, user_name=user_id, project_name=project_id,
        roles=list(ADMIN_ROLES if is_admin else MEMBER_ROLES), is_admin=is_admin,
        request_id=request_id, global_request_id=global_request_id)


def get_context(req):
    return req.environ[ENV_CONTEXT]


class NoAuth2Middleware:
    """Puts the caller's RequestContext in the environ, or answers 401."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        token = req.headers.get("X-Auth-Token", "").strip()
        if not token:
            raise wsgi.Unauthorized(message="Authentication required: send an X-Auth-Token "
                                            "header ('user:project' with noauth2).")
        req.environ[ENV_CONTEXT] = context_from_token(
            token, request_id=req.environ.get(ENV_REQUEST_ID),
            global_request_id=req.environ.get(ENV_GLOBAL_REQUEST_ID))
        return req.get_response(self.application)


def auth_middleware(strategy):
    """The middleware of an [api] auth_strategy."""
    strategies = {"noauth2": NoAuth2Middleware}
    return strategies[strategy]
