"""The request context: who asks, and which request a log line belongs to.

It travels with every RPC message (rpc.RequestContextSerializer), so a compute
or consoleauth log line carries the API request id that caused it.
"""
from oslo_context import context


class RequestContext(context.RequestContext):
    """oslo.context's, under this project's name (from_dict builds this class)."""


def get_admin_context():
    """Context of a service acting on its own behalf (periodic tasks, start-up)."""
    return RequestContext(is_admin=True, roles=["admin"], overwrite=False)
