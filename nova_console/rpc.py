"""oslo.messaging plumbing shared by every service: transport, context, exceptions."""
import oslo_messaging as messaging
from oslo_messaging._drivers import amqpdriver
from oslo_messaging._drivers import impl_rabbit  # noqa: F401 (its options use the constant below)
from oslo_messaging.rpc import dispatcher

from nova_console import conf as nc_conf
from nova_console import context as nc_context

CONF = nc_conf.CONF

# Exceptions raised by an endpoint in these modules are rebuilt with their own
# class on the caller's side, so the API can map them to HTTP status codes.
ALLOWED_EXMODS = ["nova_console.exception"]
CONTROL_EXCHANGE = "nova_console"

# oslo.messaging's RabbitMQ poll threads (an RPC server's listener, a client's reply
# waiter) wait for a message in drain_events() with a timeout that doubles while the
# process is idle, up to amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MAX (5 s), and stopping
# a server or cleaning up a transport joins them: an idle service took 5 s per poll
# thread to stop after SIGTERM (8 s and more in all). Capped here, an idle poll
# thread wakes twice a second: about 3 ms of CPU per second per idle service
# (measured: an idle consoleauth went from 1.2 to 4.2 ms/s), for a stop in ~1 s.
IDLE_POLL_MAX_SECONDS = 0.5

_TRANSPORT = None


def init(conf=CONF, url=None):
    """Create the process' RPC transport from `url` or [DEFAULT] transport_url."""
    global _TRANSPORT
    if _TRANSPORT is None:
        amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MAX = min(
            amqpdriver.ACK_REQUEUE_EVERY_SECONDS_MAX, IDLE_POLL_MAX_SECONDS)
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
