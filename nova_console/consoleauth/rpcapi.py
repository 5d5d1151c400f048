"""Client side of the consoleauth RPC API."""
import collections
import threading

import oslo_messaging as messaging

from nova_console import conf as nc_conf
from nova_console import connect_info
from nova_console import consoleauth
from nova_console import rpc

CONF = nc_conf.CONF

# check_tokens messages of one client on their way at once; more concurrent checks
# wait for the next message (see TokenCheckBatcher).
MAX_BATCHES_IN_FLIGHT = 4
# Tokens per check_tokens message (consoleauth takes up to 100).
MAX_TOKENS_PER_BATCH = 50
# Seconds a check waits for a message slot before it sends the queue anyway.
MAX_SLOT_WAIT = 0.1


class ConsoleAuthAPI:
    """Client side of the consoleauth RPC API.

    API version history:

        * 1.0 - Initial version: authorize_console, check_token,
                delete_tokens_for_instance.
        * 1.1 - check_tokens: many tokens in one message.
    """

    VERSION = "1.1"

    def __init__(self):
        target = messaging.Target(topic=consoleauth.TOPIC, version=self.VERSION)
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.consoleauth)
        self._batcher = TokenCheckBatcher(self._check_tokens)

    def authorize_console(self, ctxt, connect_info):
        """Store the token of `connect_info` (a connect_info.ConnectInfo)."""
        # call: the console URL must not be handed out before its token is stored.
        return self.client.prepare().call(
            ctxt, "authorize_console", token=connect_info.token,
            console_type=connect_info.console_type, host=connect_info.host,
            port=connect_info.port, internal_access_path=connect_info.internal_access_path,
            instance_uuid=connect_info.instance_uuid, access_url=connect_info.access_url_base,
            tls_port=connect_info.tls_port)

    def check_token(self, ctxt, token):
        """The token's connect_info.ConnectInfo (no token in it), or None. Checks made
        at the same time by this process travel together in check_tokens messages
        (1.1), so a reconnect storm costs consoleauth and the message bus a few
        messages, not one each (see TokenCheckBatcher)."""
        if not self.client.can_send_version("1.1"):
            found = self.client.prepare(version="1.0").call(ctxt, "check_token", token=token)
        else:
            found = self._batcher.check(ctxt, token)
        return None if found is None else connect_info.ConnectInfo.from_primitive(found)

    def warm_up(self, ctxt):
        """Open what a first check would wait for (connections, the reply queue): an
        empty check_tokens, which consoleauth answers without touching anything."""
        if self.client.can_send_version("1.1"):
            self._check_tokens(ctxt, [])

    def _check_tokens(self, ctxt, tokens):
        return self.client.prepare(version="1.1").call(ctxt, "check_tokens", tokens=tokens)

    def delete_tokens_for_instance(self, ctxt, instance_uuid):
        # call, not cast: DELETE /servers/{id} answers only once no token of the
        # instance can open a console any more.
        return self.client.prepare().call(ctxt, "delete_tokens_for_instance",
                                          instance_uuid=instance_uuid)


class _PendingCheck:
    __slots__ = ("token", "ready", "batch", "result", "error")

    def __init__(self, token):
        self.token = token
        # Set when the answer is in, or when `batch` is this caller's to send.
        self.ready = threading.Event()
        self.batch = None
        self.result = None
        self.error = None


class TokenCheckBatcher:
    """Concurrent token checks of one process share messages.

    A check that finds fewer than max_in_flight messages on their way is sent at
    once, alone: a lone check waits for nothing. Checks arriving while
    max_in_flight messages are out queue up; when a message's answer comes back,
    the oldest queued check is woken to send the queue (up to max_batch tokens)
    in the next message. A check that waited max_wait seconds for that (the
    messages out are slow: a compute host that does not answer, say) sends the
    queue itself, in one more message. Every caller gets its own token's answer,
    or the error its message met (a timeout, a lost connection). A caller killed
    while it waits (eventlet's Timeout) takes nothing down with it: what it was
    to send goes back to the queue, its message slot to the next caller.
    """

    def __init__(self, send, max_in_flight=MAX_BATCHES_IN_FLIGHT,
                 max_batch=MAX_TOKENS_PER_BATCH, max_wait=MAX_SLOT_WAIT):
        self._send = send  # send(ctxt, [token, ...]) -> [answer, ...]
        self.max_in_flight = max_in_flight
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._queue = collections.deque()
        self._in_flight = 0

    def check(self, ctxt, token):
        pending = _PendingCheck(token)
        with self._lock:
            if self._in_flight < self.max_in_flight:
                self._in_flight += 1
                pending.batch = [pending]
            else:
                self._queue.append(pending)
        try:
            if pending.batch is None and not pending.ready.wait(self.max_wait):
                self._lead_the_queue(pending)
            if pending.batch is None:
                pending.ready.wait()
        except BaseException:
            self._abandon(pending)
            raise
        if pending.batch is not None:  # this caller sends a message
            self._send_batch(ctxt, pending.batch)
        if pending.error is not None:
            raise pending.error.with_traceback(None)
        return pending.result

    def _lead_the_queue(self, pending):
        """No slot came free in time: if still queued, send the queue now (the
        oldest checks first) in a message beyond max_in_flight."""
        with self._lock:
            try:
                self._queue.remove(pending)
            except ValueError:
                return  # taken by a sender, or handed a slot, meanwhile
            self._in_flight += 1
            pending.batch = [pending] + self._take(self.max_batch - 1)

    def _take(self, count):
        taken = []
        while self._queue and len(taken) < count:
            taken.append(self._queue.popleft())
        return taken

    def _abandon(self, pending):
        """The caller of `pending` is gone: forget its check; if it had been handed
        a message to send, queue the others of it again and pass the slot on."""
        with self._lock:
            try:
                self._queue.remove(pending)
                return
            except ValueError:
                pass
            batch, pending.batch = pending.batch, None
            if batch is None:
                return  # riding in another caller's message, which answers it
            self._queue.extendleft(reversed(batch[1:]))
        self._hand_over()

    def _send_batch(self, ctxt, batch):
        results, error = [None] * len(batch), None
        try:
            answers = self._send(ctxt, [pending.token for pending in batch])
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise messaging.MessagingException(
                    "check_tokens answered %s for %d tokens" % (type(answers).__name__,
                                                                len(batch)))
            results = answers
        except Exception as exc:
            error = exc
        except BaseException:
            # This caller is being killed: the others of its message go back to the
            # queue (a check reads nothing it changes: sending it twice is harmless).
            with self._lock:
                self._queue.extendleft(reversed(batch[1:]))
            batch, results = batch[:1], [None]
            error = messaging.MessagingException("the token check was interrupted")
            raise
        finally:
            self._hand_over()
            for pending, result in zip(batch, results):
                pending.result, pending.error, pending.batch = result, error, None
                pending.ready.set()

    def _hand_over(self):
        """The message slot goes to the oldest queued check, which sends what is
        queued; with nothing queued, the slot is free."""
        with self._lock:
            if not self._queue:
                self._in_flight -= 1
                return
            leader = self._queue.popleft()
            leader.batch = [leader] + self._take(self.max_batch - 1)
        leader.ready.set()
