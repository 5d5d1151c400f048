"""consoleauth's client: concurrent token checks of one process share messages."""
import threading

import oslo_messaging as messaging
import pytest

from nova_console import consoleauth
from nova_console.consoleauth import manager as consoleauth_manager
from nova_console.consoleauth import rpcapi
from nova_console import context
from nova_console import service


class GatedSender:
    """check_tokens stand-in: records every message, answers "ok:<token>" (or raises
    `error`), and holds each message until the test opens the gate."""

    def __init__(self, error=None):
        self.messages = []
        self.error = error
        self.gate = threading.Event()
        self.arrived = threading.Semaphore(0)
        self._lock = threading.Lock()

    gate_for = None  # tokens whose messages wait at the gate; None: all of them

    def __call__(self, ctxt, tokens):
        with self._lock:
            self.messages.append(list(tokens))
        self.arrived.release()
        if self.gate_for is None or self.gate_for & set(tokens):
            assert self.gate.wait(10)
        if self.error is not None:
            raise self.error
        return ["ok:" + token for token in tokens]


def _check_in_threads(batcher, tokens):
    """Start one thread per token; returns (threads, results, errors) filled as they end."""
    results, errors = {}, {}

    def check(token):
        try:
            results[token] = batcher.check(None, token)
        except Exception as exc:
            errors[token] = exc

    threads = [threading.Thread(target=check, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    return threads, results, errors


def _wait_queued(batcher, count):
    for _ in range(1000):
        with batcher._lock:
            if len(batcher._queue) == count:
                return
        threading.Event().wait(0.01)
    raise AssertionError("%d checks never queued" % count)


def _join(threads):
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def test_a_lone_check_is_sent_at_once_by_itself():
    sender = GatedSender()
    sender.gate.set()
    batcher = rpcapi.TokenCheckBatcher(sender)
    assert batcher.check(None, "a") == "ok:a"
    assert batcher.check(None, "b") == "ok:b"
    assert sender.messages == [["a"], ["b"]]


def test_checks_made_while_the_messages_are_out_travel_together_in_the_next_one():
    sender = GatedSender()
    batcher = rpcapi.TokenCheckBatcher(sender, max_in_flight=2, max_wait=30)
    first, _, _ = _check_in_threads(batcher, ["a", "b"])
    assert sender.arrived.acquire(timeout=10) and sender.arrived.acquire(timeout=10)
    queued = ["q%d" % i for i in range(10)]
    later, results, errors = _check_in_threads(batcher, queued)
    _wait_queued(batcher, len(queued))
    sender.gate.set()
    _join(first + later)
    assert not errors
    assert results == {token: "ok:" + token for token in queued}
    assert sorted(sender.messages[:2]) == [["a"], ["b"]]
    # Both slots come back; the first one takes the whole queue.
    assert sorted(sender.messages[2]) == sorted(queued)
    assert len(sender.messages) == 3


def test_a_message_carries_at_most_max_batch_tokens():
    sender = GatedSender()
    batcher = rpcapi.TokenCheckBatcher(sender, max_in_flight=1, max_batch=3, max_wait=30)
    first, _, _ = _check_in_threads(batcher, ["a"])
    assert sender.arrived.acquire(timeout=10)
    queued = ["q%d" % i for i in range(7)]
    later, results, errors = _check_in_threads(batcher, queued)
    _wait_queued(batcher, len(queued))
    sender.gate.set()
    _join(first + later)
    assert not errors and len(results) == 7
    assert [len(message) for message in sender.messages] == [1, 3, 3, 1]
    assert sorted(sum(sender.messages[1:], [])) == sorted(queued)


def test_every_caller_of_a_failed_message_gets_its_error_and_the_slot_is_freed():
    sender = GatedSender(error=messaging.MessagingTimeout("no answer"))
    batcher = rpcapi.TokenCheckBatcher(sender, max_in_flight=1, max_wait=30)
    first, _, first_errors = _check_in_threads(batcher, ["a"])
    assert sender.arrived.acquire(timeout=10)
    later, results, errors = _check_in_threads(batcher, ["b", "c"])
    _wait_queued(batcher, 2)
    sender.gate.set()
    _join(first + later)
    assert not results
    assert all(isinstance(errors[t], messaging.MessagingTimeout) for t in ("b", "c"))
    assert isinstance(first_errors["a"], messaging.MessagingTimeout)
    sender.error = None
    assert batcher.check(None, "d") == "ok:d"


def test_an_answer_of_the_wrong_size_is_an_error_for_every_caller():
    batcher = rpcapi.TokenCheckBatcher(lambda ctxt, tokens: ["ok"] * (len(tokens) + 1))
    with pytest.raises(messaging.MessagingException, match="answered list for 1 tokens"):
        batcher.check(None, "a")
    batcher = rpcapi.TokenCheckBatcher(lambda ctxt, tokens: None)
    with pytest.raises(messaging.MessagingException, match="answered NoneType"):
        batcher.check(None, "a")


class Killed(BaseException):
    """Stands for a green thread being killed (eventlet's Timeout, GreenletExit)."""


def test_a_sender_killed_mid_call_passes_the_rest_of_its_message_on():
    first_gate, first_arrived = threading.Event(), threading.Event()

    def send(ctxt, tokens):
        if tokens == ["x"]:
            first_arrived.set()
            assert first_gate.wait(10)
        elif "a" in tokens:
            raise Killed()
        return ["ok:" + t for t in tokens]

    batcher = rpcapi.TokenCheckBatcher(send, max_in_flight=1, max_wait=30)
    first, _, _ = _check_in_threads(batcher, ["x"])
    assert first_arrived.wait(10)
    killed = []

    def leader():  # queued first: sends the next message, which carries "a" and "b"
        try:
            batcher.check(None, "a")
        except Killed:
            killed.append(True)

    thread = threading.Thread(target=leader)
    thread.start()
    _wait_queued(batcher, 1)
    later, results, errors = _check_in_threads(batcher, ["b"])
    _wait_queued(batcher, 2)
    first_gate.set()
    _join(first + [thread] + later)
    assert killed == [True]
    # "b" rode in the killed caller's message: it went back to the queue, and out.
    assert results == {"b": "ok:b"} and not errors
    assert batcher.check(None, "c") == "ok:c"
    assert batcher._in_flight == 0


def test_warm_up_sends_an_empty_check_that_consoleauth_answers_without_a_lookup(
        fake_transport, database):
    class Recording(consoleauth_manager.ConsoleAuthManager):
        received = []

        def check_tokens(self, ctxt, tokens):
            answer = super().check_tokens(ctxt, tokens)
            self.received.append((tokens, answer))
            return answer

    running = service.RPCService(consoleauth.TOPIC, "ca-1", [Recording(compute_api=object())])
    running.start()
    try:
        rpcapi.ConsoleAuthAPI().warm_up(context.get_admin_context())
    finally:
        running.stop()
    assert Recording.received == [([], [])]


def test_a_check_that_waits_too_long_for_a_slot_sends_the_queue_itself():
    """Slow messages (a compute host that does not answer) hold every slot: queued
    checks go out after max_wait instead of waiting for them."""
    sender = GatedSender()
    batcher = rpcapi.TokenCheckBatcher(sender, max_in_flight=1, max_wait=0.05)
    first, _, _ = _check_in_threads(batcher, ["slow"])
    assert sender.arrived.acquire(timeout=10)
    sender.gate_for = {"slow"}  # only the first message stays held
    later, results, errors = _check_in_threads(batcher, ["a", "b", "c"])
    _join(later)
    assert results == {t: "ok:" + t for t in "abc"} and not errors
    assert sender.messages[0] == ["slow"]
    sender.gate.set()
    _join(first)
    assert batcher._in_flight == 0


def test_a_caller_killed_while_queued_leaves_no_hole():
    """A queued caller whose green thread is killed is forgotten; one killed just as
    it was handed a slot passes the slot, and its message, on."""
    sender = GatedSender()
    batcher = rpcapi.TokenCheckBatcher(sender, max_in_flight=1, max_wait=30)
    first, _, _ = _check_in_threads(batcher, ["first"])
    assert sender.arrived.acquire(timeout=10)
    doomed = rpcapi._PendingCheck("doomed")
    rider = rpcapi._PendingCheck("rider")
    batcher._queue.extend([doomed, rider])
    batcher._abandon(doomed)  # killed while queued
    assert list(batcher._queue) == [rider]
    # Killed right after a slot was handed to it, with a message to send:
    batcher._queue.clear()
    doomed.batch = [doomed, rider]
    batcher._in_flight += 1
    batcher._abandon(doomed)
    assert rider.batch == [rider] and rider.ready.is_set()  # the rider now sends
    sender.gate.set()
    _join(first)
    batcher._send_batch(None, rider.batch)
    assert rider.result == "ok:rider"
    assert batcher._in_flight == 0
