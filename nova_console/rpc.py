"""oslo.messaging plumbing shared by every service: transport, context, exceptions."""
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher

from nova_console import conf as nc_conf
from nova_console import context as nc_context

CONF = nc_conf.CONF

# Exceptions raised by an endpoint in these modules are rebuilt with their own
# class on the caller's side, so the API can map them to HTTP status codes.
ALLOWED_EXMODS = ["nova_console.exception"]
CONTROL_EXCHANGE = "nova_console"

_TRANSPORT = None


def init(conf=CONF, url=None):
    """Create the process' RPC transport from `url` or [DEFAULT] transport_url."""
    global _TRANSPORT
    if _TRANSPORT is None:
        messaging.set_transport_defaults(CONTROL_EXCHANGE)
        _TRANSPORT = messaging.get_rpc_transport(conf, url=url,
                                                 allowed_remote_exmods=ALLOWED_EXMODS)
    return _TRANSPORT


def set_default_transport_url(url, conf=CONF):
    """Make `url` the transport used when the configuration names none."""
    messaging.TransportURL.parse(conf)  # registers oslo.messaging's transport options
    conf.set_default("transport_url", url)


def cleanup():
    global _TRANSPORT
    if _TRANSPORT is not None:
        _TRANSPORT.cleanup()
        _TRANSPORT = None


class RequestContextSerializer(messaging.Serializer):
    """Carries a RequestContext in every message; payloads are plain JSON types."""

    def __init__(self):
        self._base = messaging.JsonPayloadSerializer()

    def serialize_entity(self, ctxt, entity):
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt, entity):
        return entity

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return nc_context.RequestContext.from_dict(ctxt)


def get_client(target, version_cap=None):
    return messaging.get_rpc_client(init(), target, version_cap=version_cap,
                                    serializer=RequestContextSerializer())


def get_server(target, endpoints):
    access_policy = dispatcher.DefaultRPCAccessPolicy
    return messaging.get_rpc_server(init(), target, endpoints,
                                    serializer=RequestContextSerializer(),
                                    access_policy=access_policy)
