"""The listening side of a console proxy: accept, optional TLS, a green thread each.

Every accepted connection is served by the proxies' request handler
(handler.py), with the proxy's settings (settings.py), in a green thread of its
own, on the process' eventlet hub (concurrency.py says how the proxies run).
serve_forever() may run in any thread, monkey-patched or not: that thread's hub
serves every connection it accepts, so one process holds thousands of
sessions. stop() may be called from any thread.
"""
import dataclasses
import os
import socket
import ssl
import threading

from eventlet.green import ssl as green_ssl
from oslo_log import log as logging

from nova_console import context as nc_context
from nova_console.console import buffers
from nova_console.console import concurrency
from nova_console.console import handler
from nova_console.console import health
from nova_console.consoleauth import rpcapi as consoleauth_rpcapi

LOG = logging.getLogger(__name__)

# Seconds a new connection has to start (and finish) its TLS handshake.
TLS_HANDSHAKE_TIMEOUT = 10

# Seconds between two checks of the stop flag while waiting for connections.
ACCEPT_POLL_INTERVAL = 0.5

LISTEN_BACKLOG = 4096

# Seconds serve_forever() gives open sessions to end once stop() was called.
STOP_TIMEOUT = 5.0

_TLS_VERSIONS = {
    "tlsv1_1": ssl.TLSVersion.TLSv1_1,
    "tlsv1_2": ssl.TLSVersion.TLSv1_2,
    "tlsv1_3": ssl.TLSVersion.TLSv1_3,
}

# First byte of a TLS ClientHello record (and of an SSLv2-style hello).
_TLS_FIRST_BYTES = (0x16, 0x80)


class ConsoleProxyConfigError(Exception):
    """The proxy cannot start with the configured options."""


def build_ssl_context(tls):
    """The server SSLContext of settings.TLSSettings `tls`, or None when there is no
    TLS or its certificate file does not exist (and TLS is not required)."""
    if tls is None:
        return None
    if not os.path.exists(tls.cert):
        if tls.ssl_only:
            raise ConsoleProxyConfigError(
                "ssl_only is set but the certificate file %s does not exist" % tls.cert)
        LOG.info("TLS disabled: certificate file %s not found", tls.cert)
        return None
    # A green context: its sockets yield to the hub, patched process or not.
    context = green_ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(tls.cert, tls.key or None)
        if tls.ciphers:
            context.set_ciphers(tls.ciphers)
    except (OSError, ssl.SSLError) as exc:
        raise ConsoleProxyConfigError("cannot set up TLS: %s" % exc)
    minimum = _TLS_VERSIONS.get(tls.minimum_version)
    if minimum is not None:
        context.minimum_version = minimum
    return context


class ConsoleProxyServer:
    """Listens where `settings` (settings.ProxySettings) say and serves each
    connection with the proxies' request handler.

    The handler reads the proxy's settings and token_checker from this object:
    an object with check_token(ctxt, token), consoleauth's RPC API by default,
    made on first use so that worker processes forked after the listening socket
    was opened each get their own RPC connection.
    """

    def __init__(self, settings, token_checker=None):
        self.settings = settings
        self._token_checker = token_checker
        if settings.web_root and not os.path.isdir(settings.web_root):
            LOG.warning("Web root %s of %s is not a directory: it will serve no files",
                        settings.web_root, settings.name)
        self.ssl_only = bool(settings.tls and settings.tls.ssl_only)
        self.ssl_context = build_ssl_context(settings.tls)
        self._stopping = threading.Event()
        self._connections = set()
        self._connections_lock = threading.Lock()
        self._listener = self._listen(settings.host, settings.port, settings.listen_ipv6)
        self._listener_pid = os.getpid()  # a worker forked later shares the socket
        try:
            health.endpoint()  # a wrong [healthcheck] option stops the proxy here
        except ValueError as exc:
            raise ConsoleProxyConfigError(str(exc)) from None
        self._pool = None

    @property
    def token_checker(self):
        if self._token_checker is None:
            self._token_checker = consoleauth_rpcapi.ConsoleAuthAPI()
        return self._token_checker

    @staticmethod
    def _listen(host, port, ipv6):
        family = socket.AF_INET
        if ipv6:
            family = socket.AF_INET6
            if host == "0.0.0.0":
                host = "::"
        dualstack = family == socket.AF_INET6 and host == "::" and socket.has_dualstack_ipv6()
        listener = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG,
                                        dualstack_ipv6=dualstack)
        listener.settimeout(ACCEPT_POLL_INTERVAL)
        return concurrency.green_socket(listener)

    def reload(self):
        """Apply the reloadable options as CONF has them now (SIGHUP): new connections
        get them, open sessions go on as they are. A TLS certificate that cannot be
        loaded leaves the current one in use, and says why."""
        settings = self.settings.reloaded()
        try:
            if self.ssl_context is not None and not os.path.exists(settings.tls.cert):
                raise ConsoleProxyConfigError("certificate file %s does not exist"
                                              % settings.tls.cert)
            ssl_context = build_ssl_context(settings.tls)
        except ConsoleProxyConfigError as exc:
            LOG.error("%s: the new TLS settings are unusable (%s); keeping the current "
                      "ones", self.settings.name, exc)
            settings = dataclasses.replace(settings, tls=self.settings.tls)
            ssl_context = self.ssl_context
        self.settings, self.ssl_context = settings, ssl_context
        LOG.info("%s reloaded its settings%s", settings.name,
                 " (TLS certificate %s)" % settings.tls.cert if ssl_context else "")

    @property
    def address(self):
        """(host, port) actually listened on (port 0 at creation picks a free port)."""
        return self._listener.getsockname()[:2]

    def serve_forever(self):
        host, port = self.address
        LOG.info("%s listening on %s:%s%s", self.settings.name, host, port,
                 " (TLS only)" if self.ssl_only else
                 " (TLS and plain)" if self.ssl_context else "")
        self._pool = concurrency.GreenPool(size=1_000_000)
        concurrency.spawn_n(self._warm_up)  # not in the pool: stop() does not wait for it
        while not self._stopping.is_set():
            try:
                conn, client_address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    break
                # e.g. out of file descriptors: keep serving the open sessions
                LOG.warning("Cannot accept a connection: %s", exc)
                concurrency.sleep(0.1)
                continue
            self._pool.spawn_n(self._serve_connection, conn, client_address)
        self._end_sessions()
        self._listener.close()
        LOG.info("%s stopped listening", self.settings.name)

    def _warm_up(self):
        """Open the RPC connections and reply queue now, not in the first session."""
        warm_up = getattr(self.token_checker, "warm_up", None)
        if warm_up is None:
            return
        try:
            warm_up(nc_context.get_admin_context())
        except Exception as exc:  # consoleauth not up yet: the first session will retry
            LOG.warning("Could not reach nova-consoleauth at start: %s", exc.__class__.__name__)

    def stop(self):
        """Stop accepting connections and end every open session.

        Only system calls here (shutdown wakes whoever waits on a socket), so any
        thread may call it; serve_forever() does the rest in its own thread. A
        worker process does not shut the listening socket down: it shares it with
        the other workers, and shutdown() would stop it for all of them; its
        serve_forever() sees the flag within ACCEPT_POLL_INTERVAL instead."""
        self._stopping.set()
        if os.getpid() == self._listener_pid:
            buffers.shutdown_quietly(self._listener)
        self._shutdown_connections()

    def _shutdown_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            buffers.shutdown_quietly(conn)

    def _end_sessions(self):
        """In serve_forever's thread: wake every session and let it clean up."""
        self._shutdown_connections()
        with concurrency.Timeout(STOP_TIMEOUT, False):
            self._pool.waitall()
        if self._pool.running():
            LOG.warning("%d console connection(s) did not end in time", self._pool.running())

    def _serve_connection(self, conn, client_address):
        served = None
        self._track(conn)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            if self._stopping.is_set():
                return
            served = self._negotiate_tls(conn, client_address)
            if served is not None:
                self._track(served)
                handler.ConsoleProxyRequestHandler(served, client_address, self)
        except (OSError, ssl.SSLError) as exc:
            LOG.debug("Connection from %s ended: %s", client_address[0], exc)
        except Exception:
            LOG.exception("Unexpected error serving a console connection from %s",
                          client_address[0])
        finally:
            for sock in (served, conn):
                if sock is not None:
                    self._untrack(sock)
                    buffers.shutdown_quietly(sock)
                    sock.close()

    def _track(self, sock):
        with self._connections_lock:
            self._connections.add(sock)

    def _untrack(self, sock):
        with self._connections_lock:
            self._connections.discard(sock)

    def _negotiate_tls(self, conn, client_address):
        """The connection to hand to the handler: TLS-wrapped if the client starts
        a TLS handshake, plain if allowed, else None (refused)."""
        if self.ssl_context is None:
            return conn
        conn.settimeout(TLS_HANDSHAKE_TIMEOUT)
        first = conn.recv(1, socket.MSG_PEEK)
        if first and first[0] in _TLS_FIRST_BYTES:
            return self.ssl_context.wrap_socket(conn, server_side=True)
        if self.ssl_only:
            LOG.info("Refused a plain connection from %s: ssl_only is set",
                     client_address[0])
            try:
                conn.sendall(handler.refusal_head(400, "this proxy requires TLS"))
            except OSError:
                pass
            buffers.linger_until_eof(conn, handler.REFUSAL_LINGER)
            return None
        return conn
