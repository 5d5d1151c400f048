"""nova-consoleauth: token storage, checks and revocation."""
import threading
import time

import oslo_messaging as messaging
import pytest

from nova_console.consoleauth import manager as consoleauth_manager
from nova_console import context
from nova_console import exception
from nova_console.db import api as db
from nova_console import utils
from tests.unit import fakes

INSTANCE = "6f1c7d3e-0a44-4bd5-8c8f-5d1b2bbad1e5"


class FakeCompute:
    """Answers validate_console_port like a compute host that runs INSTANCE on 5901."""

    def __init__(self, port=5901, error=None):
        self.port = port
        self.error = error
        self.calls = []
        self.timeouts = []

    def validate_console_port(self, ctxt, instance, port, console_type, timeout=None):
        self.calls.append((instance, port, console_type))
        self.timeouts.append(timeout)
        if self.error:
            raise self.error
        return instance["uuid"] == INSTANCE and port == self.port


@pytest.fixture
def compute():
    return FakeCompute()


@pytest.fixture
def instance(database):
    return db.instance_create({"uuid": INSTANCE, "name": "vm", "project_id": "p",
                               "user_id": "u", "host": "compute-1", "vm_state": "active",
                               "power_state": 1})


@pytest.fixture
def manager(instance, compute):
    return consoleauth_manager.ConsoleAuthManager(compute_api=compute)


def _authorize(manager, token="tok-" + "a" * 28, port=5901, access_url="http://p/vnc_lite.html"):
    manager.authorize_console(context.get_admin_context(), token, "novnc", "host1", port,
                              None, INSTANCE, access_url=access_url)
    return token


def test_authorized_token_is_accepted_with_its_connection_details(manager):
    token = _authorize(manager)
    details = manager.check_token(context.get_admin_context(), token)
    assert details["host"] == "host1"
    assert details["port"] == 5901
    assert details["instance_uuid"] == INSTANCE
    assert details["console_type"] == "novnc"
    assert details["access_url_base"] == "http://p/vnc_lite.html"
    assert "token" not in details and "token_hash" not in details


def test_only_the_hash_of_a_token_is_stored(manager):
    token = _authorize(manager)
    rows = db.console_token_get_all(instance_uuid=INSTANCE)
    assert len(rows) == 1
    assert rows[0]["token_hash"] == utils.hash_token(token)
    assert token not in repr(rows)


def test_unknown_token_is_refused(manager):
    _authorize(manager)
    assert manager.check_token(context.get_admin_context(), "not-a-token") is None


@pytest.mark.parametrize("token", [None, "", 42, ["x"]])
def test_malformed_token_is_refused(manager, token):
    assert manager.check_token(context.get_admin_context(), token) is None


def test_expired_token_is_refused(manager, conf):
    conf.set_override("token_ttl", 1, group="consoleauth")
    token = _authorize(manager)
    assert manager.check_token(context.get_admin_context(), token) is not None
    time.sleep(1.1)
    assert manager.check_token(context.get_admin_context(), token) is None


def test_revoked_token_is_refused(manager):
    token = _authorize(manager)
    assert manager.delete_tokens_for_instance(context.get_admin_context(), INSTANCE) == 1
    assert manager.check_token(context.get_admin_context(), token) is None


def test_token_is_refused_when_the_port_is_no_longer_the_instances(manager, compute):
    token = _authorize(manager)
    compute.port = 5902  # the instance's console moved; 5901 may now be someone else's
    assert manager.check_token(context.get_admin_context(), token) is None
    assert compute.calls[-1] == ({"uuid": INSTANCE, "host": "compute-1"}, 5901, "novnc")


def test_token_of_a_deleted_instance_is_refused_without_asking_compute(manager, compute):
    token = _authorize(manager)
    db.instance_destroy(INSTANCE)
    assert manager.check_token(context.get_admin_context(), token) is None
    assert compute.calls == []


@pytest.mark.parametrize("error", [messaging.MessagingTimeout("slow"),
                                   messaging.MessageDeliveryFailure("down"),
                                   RuntimeError("boom")])
def test_token_is_refused_when_the_compute_host_cannot_confirm_the_port(manager, compute, error):
    token = _authorize(manager)
    compute.error = error
    assert manager.check_token(context.get_admin_context(), token) is None


def test_purge_removes_only_expired_tokens(manager, conf):
    conf.set_override("token_ttl", 1, group="consoleauth")
    _authorize(manager, token="old-token")
    conf.set_override("token_ttl", 600, group="consoleauth")
    fresh = _authorize(manager, token="fresh-token")
    time.sleep(1.1)
    assert manager.purge_expired_tokens() == 1
    assert manager.check_token(context.get_admin_context(), fresh) is not None


def test_tokens_never_appear_in_logs(manager, caplog):
    caplog.set_level("DEBUG")
    token = _authorize(manager)
    manager.check_token(context.get_admin_context(), token)
    manager.check_token(context.get_admin_context(), token + "x")
    manager.delete_tokens_for_instance(context.get_admin_context(), INSTANCE)
    assert caplog.records
    assert token not in caplog.text
    assert utils.mask_token(token) in caplog.text


def test_two_workers_on_one_database_serve_the_same_tokens(instance, compute):
    first = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    second = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    token = _authorize(first)
    assert second.check_token(context.get_admin_context(), token)["port"] == 5901


class GatedCompute(FakeCompute):
    """A compute host whose validate_console_port answers only once the test opens
    the gate, so the test can line up concurrent checks behind one call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.gate = threading.Event()
        self.called = threading.Event()

    def validate_console_port(self, ctxt, instance, port, console_type, timeout=None):
        self.called.set()
        assert self.gate.wait(10)
        return super().validate_console_port(ctxt, instance, port, console_type, timeout)


def _check_concurrently(manager, tokens, compute):
    """check_token for every token in its own thread, all while the first call to the
    compute host is held at the gate; returns the results in order."""
    results = [None] * len(tokens)

    def check(index):
        results[index] = manager.check_token(context.get_admin_context(), tokens[index])

    threads = [threading.Thread(target=check, args=(i,)) for i in range(len(tokens))]
    threads[0].start()
    assert compute.called.wait(10)
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while manager._port_checks.waiting() < len(tokens) - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    compute.gate.set()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_checks_of_one_console_share_one_port_validation(instance):
    compute = GatedCompute()
    manager = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    tokens = [_authorize(manager, token="tok-%02d-%s" % (i, "b" * 24)) for i in range(8)]
    results = _check_concurrently(manager, tokens, compute)
    assert [r["port"] for r in results] == [5901] * 8
    assert len(compute.calls) == 1


def test_a_failed_shared_port_validation_refuses_every_waiting_check(instance):
    compute = GatedCompute(error=messaging.MessagingTimeout("slow"))
    manager = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    tokens = [_authorize(manager, token="tok-%02d-%s" % (i, "c" * 24)) for i in range(5)]
    assert _check_concurrently(manager, tokens, compute) == [None] * 5
    assert len(compute.calls) == 1


def test_a_shared_port_validation_refusing_the_port_refuses_every_waiting_check(instance):
    compute = GatedCompute(port=5902)
    manager = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    tokens = [_authorize(manager, token="tok-%02d-%s" % (i, "d" * 24)) for i in range(5)]
    assert _check_concurrently(manager, tokens, compute) == [None] * 5


def test_port_validation_answers_are_never_reused_after_they_arrive(manager, compute):
    token = _authorize(manager)
    assert manager.check_token(context.get_admin_context(), token) is not None
    compute.port = 5902  # the console moved right after the first check
    assert manager.check_token(context.get_admin_context(), token) is None
    assert len(compute.calls) == 2


def test_checks_of_different_consoles_do_not_share_a_port_validation(instance):
    compute = GatedCompute()
    manager = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    first = _authorize(manager, token="tok-first-" + "e" * 22, port=5901)
    other = _authorize(manager, token="tok-other-" + "f" * 22, port=5902)
    compute.gate.set()
    threads = [threading.Thread(target=manager.check_token,
                                args=(context.get_admin_context(), t)) for t in (first, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(call[1] for call in compute.calls) == [5901, 5902]


def test_single_flight_waiters_get_the_failure_value_when_the_leader_dies():
    flights = consoleauth_manager.SingleFlight(failure=False)
    started, release = threading.Event(), threading.Event()
    results = []

    def dying():
        started.set()
        release.wait(10)
        raise SystemExit  # not an Exception: escapes the caller's own handling

    def lead():
        try:
            flights.call("k", dying)
        except SystemExit:
            results.append("leader raised")

    leader = threading.Thread(target=lead)
    leader.start()
    assert started.wait(10)
    follower = threading.Thread(target=lambda: results.append(flights.call("k", dying)))
    follower.start()
    while flights.waiting() < 1:
        time.sleep(0.01)
    release.set()
    leader.join(10)
    follower.join(10)
    assert sorted(results, key=str) == [False, "leader raised"]


def test_check_tokens_answers_each_token_in_order(manager, compute):
    good = _authorize(manager, token="tok-good-" + "g" * 23)
    moved = _authorize(manager, token="tok-moved-" + "h" * 22, port=5902)
    revoked = _authorize(manager, token="tok-revoked-" + "i" * 20)
    db.console_token_delete(utils.hash_token(revoked))
    results = manager.check_tokens(context.get_admin_context(),
                                   [good, "unknown", moved, "", None, revoked, good])
    assert [r and r["port"] for r in results] == [5901, None, None, None, None, None, 5901]
    # One validation per distinct console, not per token.
    assert sorted(call[1] for call in compute.calls) == [5901, 5902]


def test_check_tokens_validates_distinct_consoles_at_the_same_time(instance):
    compute = GatedCompute()
    manager = consoleauth_manager.ConsoleAuthManager(compute_api=compute)
    tokens = [_authorize(manager, token="tok-%d-%s" % (port, "j" * 24), port=port)
              for port in (5901, 5902, 5903)]
    arrivals = threading.Semaphore(0)
    original = compute.validate_console_port

    def counted(*args, **kwargs):
        arrivals.release()
        return original(*args, **kwargs)

    compute.validate_console_port = counted
    done = []
    thread = threading.Thread(
        target=lambda: done.append(manager.check_tokens(context.get_admin_context(), tokens)))
    thread.start()
    # All three calls are out before the first one is answered.
    assert all(arrivals.acquire(timeout=10) for _ in range(3))
    compute.gate.set()
    thread.join(10)
    assert [r and r["port"] for r in done[0]] == [5901, None, None]


@pytest.mark.parametrize("tokens", ["tok", {"a": 1}, ["t"] * 101])
def test_check_tokens_refuses_anything_but_a_bounded_list(manager, tokens):
    with fakes.raises_expected(exception.Invalid):
        manager.check_tokens(context.get_admin_context(), tokens)


def test_a_compute_host_gets_port_check_timeout_to_answer(manager, compute, conf):
    """A dead host must not hold a check_tokens message (and the checks of healthy
    consoles in it) for a whole rpc_response_timeout."""
    conf.set_override("port_check_timeout", 3, group="consoleauth")
    manager.check_token(context.get_admin_context(), _authorize(manager))
    assert compute.timeouts == [3]
