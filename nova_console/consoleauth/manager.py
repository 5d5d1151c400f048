"""nova-consoleauth: issues, checks and revokes console tokens.

Tokens live in the shared database (only their sha256), so any number of
consoleauth workers, on any hosts, serve the same tokens.
"""
import threading
import time

import oslo_messaging as messaging
from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console import connect_info
from nova_console.compute import rpcapi as compute_rpcapi
from nova_console.db import api as db
from nova_console import exception
from nova_console import utils

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

# What check_token hands to a proxy: where to connect, never the token itself.
_PUBLIC_FIELDS = ("console_type", "host", "port", "tls_port", "internal_access_path",
                  "instance_uuid", "access_url_base", "expires")

# Most tokens one check_tokens message may carry.
MAX_TOKENS_PER_CHECK = 100


def _port_check_key(row):
    """What a port validation asks: (host, instance uuid, port, console type)."""
    return (row["instance_host"], row["instance_uuid"], row["port"], row["console_type"])


class SingleFlight:
    """Concurrent calls with the same key share one run of the function.

    The first caller (the leader) runs it; callers arriving while it runs wait
    for, and return, the same result. Nothing is kept once it returns: the next
    caller starts a fresh run. So a result is never older than the run a caller
    joined, unlike a cache. If the run raises, every caller waiting on it gets
    `failure` (the leader gets the exception).
    """

    def __init__(self, failure=None):
        self.failure = failure
        self._lock = threading.Lock()
        self._running = {}

    def call(self, key, function, *args):
        with self._lock:
            flight = self._running.get(key)
            leader = flight is None
            if leader:
                flight = self._running[key] = _Flight(self.failure)
            else:
                flight.waiting += 1
        if not leader:
            flight.done.wait()
            return flight.result
        try:
            flight.result = function(*args)
            return flight.result
        finally:
            with self._lock:
                del self._running[key]
            flight.done.set()

    def waiting(self):
        """How many callers wait on a run another caller leads."""
        with self._lock:
            return sum(flight.waiting for flight in self._running.values())


class _Flight:
    __slots__ = ("done", "result", "waiting")

    def __init__(self, result):
        self.done = threading.Event()
        self.result = result
        self.waiting = 0


class ConsoleAuthManager:
    target = messaging.Target(version="1.1")

    def __init__(self, compute_api=None):
        self.compute_api = compute_api or compute_rpcapi.ComputeAPI()
        # Many proxies checking tokens of one console at once (a page reload, a
        # reconnect storm, many viewers) share one validate_console_port call.
        self._port_checks = SingleFlight(failure=False)

    def authorize_console(self, context, token, console_type, host, port,
                          internal_access_path, instance_uuid, access_url=None,
                          tls_port=None):
        expires = time.time() + CONF.consoleauth.token_ttl
        db.console_token_create({
            "token_hash": utils.hash_token(token), "console_type": console_type,
            "host": host, "port": int(port), "tls_port": tls_port,
            "internal_access_path": internal_access_path, "instance_uuid": instance_uuid,
            "access_url_base": access_url, "expires": expires})
        LOG.info("Authorized %s console token %s for instance %s on %s:%s",
                 console_type, utils.mask_token(token), instance_uuid, host, port)

    def check_token(self, context, token):
        return self.check_tokens(context, [token])[0]

    @messaging.expected_exceptions(exception.Invalid)
    def check_tokens(self, context, tokens):
        """check_token for each of `tokens` (a proxy's concurrent checks travel in
        one message): the connection details of each, or None, in the same order.
        One query reads them all; each distinct console is validated with its
        compute host once, all of them at the same time."""
        if not isinstance(tokens, list) or len(tokens) > MAX_TOKENS_PER_CHECK:
            raise exception.Invalid(reason="check_tokens takes a list of at most %d tokens"
                                    % MAX_TOKENS_PER_CHECK)
        hashes = [utils.hash_token(token) if isinstance(token, str) and token else None
                  for token in tokens]
        rows = db.console_tokens_get_valid_with_host(filter(None, hashes))
        keys = {_port_check_key(row) for row in rows.values() if row["instance_host"]}
        valid = self._ports_still_valid(context, sorted(keys))
        return [self._verdict(token_hash, rows.get(token_hash), valid)
                for token_hash in hashes]

    @staticmethod
    def _verdict(token_hash, row, valid_ports):
        if token_hash is None:
            LOG.info("Rejected a request without a token")
            return None
        if row is None:
            LOG.info("Token sha256:%s is unknown, expired or revoked", token_hash[:12])
            return None
        if not row["instance_host"] or not valid_ports[_port_check_key(row)]:
            LOG.warning("Token sha256:%s points at port %s which is no longer the console "
                        "of instance %s", token_hash[:12], row["port"], row["instance_uuid"])
            return None
        # DEBUG: the proxy logs every session it opens at INFO; refusals stay INFO.
        LOG.debug("Token sha256:%s accepted for instance %s", token_hash[:12],
                  row["instance_uuid"])
        return connect_info.ConnectInfo(
            **{field: row[field] for field in _PUBLIC_FIELDS}).to_primitive()

    def _ports_still_valid(self, context, keys):
        """{key: whether the port is still the console} for each (host, instance
        uuid, port, console type) key, asking the compute hosts concurrently.

        A port freed by a deleted or migrated instance may be reused by another
        instance; without this check an old token would open that console.
        A deleted instance (no host: never asked), and any failure to ask, count
        as "no" (fail closed).

        Concurrent checks of the same key share one call in flight (see
        SingleFlight): each caller still gets an answer the compute host gave
        after that caller's token was read, give or take the call's own transit
        time; no answer is ever reused once it has arrived.
        """
        valid = {}

        def ask(key):
            valid[key] = self._port_checks.call(key, self._ask_compute_host, context, *key)

        others = [threading.Thread(target=ask, args=(key,)) for key in keys[1:]]
        for thread in others:
            thread.start()
        if keys:
            ask(keys[0])
        for thread in others:
            thread.join()
        return valid

    def _ask_compute_host(self, context, host, instance_uuid, port, console_type):
        try:
            return bool(self.compute_api.validate_console_port(
                context, {"uuid": instance_uuid, "host": host}, port, console_type,
                timeout=CONF.consoleauth.port_check_timeout))
        except messaging.MessagingTimeout:
            LOG.warning("Compute host %s did not answer validate_console_port in time", host)
        except Exception as exc:  # any remote or transport error: refuse the token
            LOG.warning("validate_console_port on %s failed: %s", host,
                        exc.__class__.__name__)
        return False

    def delete_tokens_for_instance(self, context, instance_uuid):
        count = db.console_token_delete_for_instance(instance_uuid)
        LOG.info("Revoked %d console token(s) of instance %s", count, instance_uuid)
        return count

    def purge_expired_tokens(self):
        """Periodic task: drop expired rows so the table does not grow forever."""
        count = db.console_token_purge_expired()
        if count:
            LOG.info("Purged %d expired console token(s)", count)
        return count
