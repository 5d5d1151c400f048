"""Policy enforcement of the REST API: oslo.policy on the global CONF ([oslo_policy])."""
import threading

from oslo_policy import policy as oslo_policy

from nova_console.api import policies
from nova_console import conf as nc_conf
from nova_console import exception

CONF = nc_conf.CONF

_ENFORCER = None
_LOCK = threading.Lock()


def get_enforcer():
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            enforcer = oslo_policy.Enforcer(CONF)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER = enforcer
        return _ENFORCER


def reset():
    """Forget the enforcer (tests; a changed policy file is reloaded by oslo.policy)."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is not None:
            _ENFORCER.clear()
        _ENFORCER = None


def check(context, rule, target):
    """Whether `context` may do `rule` on `target` (a dict such as {"project_id": ...})."""
    try:
        return bool(get_enforcer().authorize(rule, target, context))
    except oslo_policy.InvalidScope:
        return False


def authorize(context, rule, target):
    """Raise Forbidden (403) unless `context` may do `rule` on `target`."""
    if not check(context, rule, target):
        raise exception.Forbidden(message="Policy doesn't allow %s to be performed." % rule)
