"""What happens to console connections, told to whoever watches: the session events.

Every connection a proxy takes for a console ends in exactly one of

* refused(session, refusal): it never reached the console (a bad token, a
  console server that is down, a failed negotiation...), or
* started(session), later ended(session): it was relayed; `ended` says how
  many bytes went each way, for how long, and why it closed.

Observers (SessionObserver) are the seam for everything that watches sessions:
the log is the first (LogObserver); audit notifications, metrics and a registry
of live sessions plug in beside it, by a proxy's settings, without touching the
handler or the relay. An observer that fails is logged and the others still
hear the event: watching must never break a console. Observers run in a green
thread of their own (concurrency.call_aside), one event after the other.

The record (Session) holds what may be told: never a token, only its mask.
"""
import dataclasses
import time

from oslo_log import log as logging

from nova_console.console import concurrency

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Session:
    """One console connection, as observers see it; filled in as it goes."""

    proxy: str                        # the proxy's name, e.g. "nova-novncproxy"
    front: str                        # how the client came: "websocket" or "connect"
    client: str                       # the client's address
    token: str = "-"                  # the token's mask (utils.mask_token), never the token
    console_type: str | None = None
    instance_uuid: str | None = None
    backend: str | None = None        # "host:port" of the console server
    started_at: float | None = None   # unix time the relay began
    bytes_to_console: int = 0
    bytes_to_client: int = 0
    duration: float = 0.0             # seconds of relaying
    end_reason: str | None = None

    def describe_target(self, connect_info):
        """Record where the token leads (once consoleauth said)."""
        self.console_type = connect_info.console_type
        self.instance_uuid = connect_info.instance_uuid
        self.backend = "%s:%s" % (connect_info.host, connect_info.port)

    def record_relay(self, relay):
        """Record what a finished relay.Relay did."""
        self.bytes_to_console = relay.bytes_to_backend
        self.bytes_to_client = relay.bytes_to_client
        self.duration = relay.duration
        self.end_reason = relay.end_reason


class SessionObserver:
    """Base of the observers: each event is a no-op unless overridden."""

    def refused(self, session, refusal):
        """The connection did not reach the console; refusal: target.Refusal."""

    def started(self, session):
        """The relay begins."""

    def ended(self, session):
        """The relay ended; the session's counters and end_reason are final."""


class LogObserver(SessionObserver):
    """One log line per event: INFO, WARNING for refusals that are our fault (5xx)."""

    def refused(self, session, refusal):
        log = LOG.warning if refusal.server_side else LOG.info
        log("%(proxy)s refused a console connection from %(client)s (token %(token)s): "
            "%(reason)s%(detail)s",
            {"proxy": session.proxy, "client": session.client, "token": session.token,
             "reason": refusal.reason,
             "detail": "; %s" % refusal.detail if refusal.detail else ""})

    def started(self, session):
        LOG.info("Console session started: %(console_type)s console of instance "
                 "%(instance)s at %(backend)s for %(client)s (token %(token)s)",
                 {"console_type": session.console_type, "instance": session.instance_uuid,
                  "backend": session.backend, "client": session.client,
                  "token": session.token})

    def ended(self, session):
        LOG.info("Console session ended: instance %(instance)s, client %(client)s, "
                 "%(to_console)d bytes to the console, %(to_client)d bytes to the client, "
                 "%(duration).1f s (%(reason)s)",
                 {"instance": session.instance_uuid, "client": session.client,
                  "to_console": session.bytes_to_console, "to_client": session.bytes_to_client,
                  "duration": session.duration, "reason": session.end_reason})


LOG_OBSERVER = LogObserver()


class SessionEvents:
    """Tells every observer of a proxy each event, whatever the others do."""

    def __init__(self, observers):
        self.observers = tuple(observers)

    def refused(self, session, refusal):
        self._tell("refused", session, refusal)

    def started(self, session):
        session.started_at = time.time()
        self._tell("started", session)

    def ended(self, session):
        self._tell("ended", session)

    def _tell(self, event, *args):
        # Aside: observers log, and the session's own green thread must stay shallow.
        concurrency.call_aside(self._tell_each, event, args)

    def _tell_each(self, event, args):
        for observer in self.observers:
            try:
                getattr(observer, event)(*args)
            except Exception:
                LOG.exception("Session observer %s failed on '%s'",
                              type(observer).__name__, event)
