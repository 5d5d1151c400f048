"""/healthcheck, the same for the API and every console proxy.

oslo.middleware's Healthcheck answers (200 "OK" or 503; text, JSON or HTML by Accept;
HEAD 204 or 503) from its backends:

* those [healthcheck] backends names (oslo.middleware's disable_by_file: an operator
  drains a process by creating [healthcheck] disable_by_file_path),
* then the dependencies of the service, always checked: the message bus (the API calls
  compute and consoleauth over it, a proxy checks every token over it) and, for the
  API, the database. They are oslo.middleware backend plugins too (entry points
  nova_console_message_bus and nova_console_database of oslo.middleware.healthcheck),
  added here when [healthcheck] backends does not already load them, so they are
  checked whether or not the entry points are installed.

Two views: the simple one (each check's reason: "OK", "UNAVAILABLE", "DISABLED BY FILE")
and the detailed one (each check's details, e.g. why the broker is unreachable, and the
process' threads). Who gets the detailed view is the caller's decision
(HealthcheckEndpoint's shows_details): the API gives it to administrators, a proxy to
[healthcheck] proxy_detailed_source_ranges; [healthcheck] detailed gives it to everyone.

A dependency is asked by its Probe: at most one question at a time per process, its
answer reused for [healthcheck] backend_cache_time seconds (a storm of health checks
costs the broker one message per process per interval), and a request waits for it
[healthcheck] backend_timeout seconds at most (a broker that does not answer makes a
503 in that time, never a hung request). The question runs in a thread of its own, a
green one in the services (monkey-patched), so it never blocks the eventlet hub.
"""
import os
import re
import threading
import time

import oslo_messaging as messaging
import sqlalchemy as sa
import webob.dec
from oslo_log import log as logging
from oslo_middleware import healthcheck
from oslo_middleware.healthcheck import pluginbase
from oslo_utils import strutils
from stevedore import extension

from nova_console import conf as nc_conf
from nova_console import context as nc_context
from nova_console.db import api as db_api
from nova_console.db import migration
from nova_console import rpc

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

PATH = "/healthcheck"
METHODS = ("GET", "HEAD")

OK = "OK"
UNAVAILABLE = "UNAVAILABLE"

# Health checks cast here: a fanout topic no server listens to, so the broker takes
# the message (and confirms it) and drops it; nothing is queued anywhere.
HEALTH_TOPIC = "nova_console_healthcheck"


class MessageBusResult(pluginbase.HealthcheckResult):
    """The message bus' answer (its class name labels it in the detailed view)."""


class DatabaseResult(pluginbase.HealthcheckResult):
    """The database's answer (its class name labels it in the detailed view)."""


def ping_message_bus():
    """Cast one message through the process' transport, with no retry: the broker must
    take it. What a service needs of the bus, with its own URL, credentials and TLS."""
    target = messaging.Target(topic=HEALTH_TOPIC, fanout=True)
    rpc.get_client(target).prepare(retry=0).cast(nc_context.get_admin_context(),
                                                 "healthcheck")


# The password of a URL's user information: scheme://user:PASSWORD@host
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def describe_bus_error(exc):
    """One line for the detailed view, without a password (of a transport URL or as
    oslo.utils recognises one)."""
    text = _URL_PASSWORD.sub(r"\1***@", "%s: %s" % (type(exc).__name__, exc))
    return strutils.mask_password(text)


def ping_database():
    """SELECT 1 on a connection of the process' pool."""
    with db_api.get_engine().connect() as connection:
        connection.execute(sa.text("SELECT 1"))


class Probe:
    """One dependency: asked by `ping` (raises when the dependency fails), described
    by `describe_error`, answered as `result_class`; see the module docstring."""

    def __init__(self, name, ping, describe_error, result_class):
        self.name = name
        self._ping = ping
        self._describe_error = describe_error
        self._result_class = result_class
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        """Forget the last answer and any question in flight."""
        self._result = None
        self._fresh_until = 0.0
        self._asking = None  # threading.Event of the question in flight
        self._asked_at = 0.0
        self._pid = os.getpid()

    def result(self):
        """The dependency's health: a cached answer, the answer to a question asked now
        (or already in flight), or UNAVAILABLE after backend_timeout seconds."""
        with self._lock:
            if self._pid != os.getpid():  # a forked worker: the asking thread stayed behind
                self.reset()
            if self._result is not None and time.monotonic() < self._fresh_until:
                return self._result
            if self._asking is not None and self._question_is_stale():
                self._asking = None  # abandoned: its answer, if any ever comes, is dropped
            if self._asking is None:
                self._asking = threading.Event()
                self._asked_at = time.monotonic()
                threading.Thread(target=self._ask, args=(self._asking,), daemon=True,
                                 name="healthcheck-%s" % self.name).start()
            asking = self._asking
        timeout = CONF.healthcheck.backend_timeout
        if not asking.wait(timeout):
            return self._result_class(False, UNAVAILABLE,
                                      "%s: no answer within %g s" % (self.name, timeout))
        return self._result or self._result_class(False, UNAVAILABLE,
                                                  "%s: check interrupted" % self.name)

    def _question_is_stale(self):
        """A question in flight for longer than a timeout and a cache period: stuck
        (a broker that took the connection and went silent), so asked again, or the
        probe would answer UNAVAILABLE forever, even once the dependency is back."""
        limit = CONF.healthcheck.backend_timeout + CONF.healthcheck.backend_cache_time
        return time.monotonic() - self._asked_at > limit

    def _ask(self, done):
        result = self._result_class(False, UNAVAILABLE, "%s: check interrupted" % self.name)
        try:
            result = self._answer()
        finally:
            with self._lock:
                if self._asking is done:  # else reset() forgot this question
                    self._result = result
                    self._fresh_until = (time.monotonic()
                                         + CONF.healthcheck.backend_cache_time)
                    self._asking = None
            done.set()

    def _answer(self):
        started = time.monotonic()
        try:
            self._ping()
        except Exception as exc:
            result = self._result_class(False, UNAVAILABLE,
                                        "%s: %s" % (self.name, self._describe_error(exc)))
            LOG.warning("Health check: %s", result.details)
            return result
        return self._result_class(True, OK, "%s answered in %.3f s"
                                  % (self.name, time.monotonic() - started))


MESSAGE_BUS = Probe("message bus", ping_message_bus, describe_bus_error, MessageBusResult)
DATABASE = Probe("database", ping_database, migration.describe_db_error, DatabaseResult)
PROBES = (MESSAGE_BUS, DATABASE)


def reset():
    """Forget every probe's last answer."""
    for probe in PROBES:
        probe.reset()


class ProbeHealthcheck(pluginbase.HealthcheckBaseExtension):
    """An oslo.middleware backend plugin answering with a Probe's result."""

    name = None
    probe = None

    def healthcheck(self, server_port):
        return self.probe.result()


class MessageBusHealthcheck(ProbeHealthcheck):
    """Entry point nova_console_message_bus: the process' message bus takes a message."""

    name = "nova_console_message_bus"
    probe = MESSAGE_BUS


class DatabaseHealthcheck(ProbeHealthcheck):
    """Entry point nova_console_database: SELECT 1 on the process' database."""

    name = "nova_console_database"
    probe = DATABASE


class Healthcheck(healthcheck.Healthcheck):
    """oslo.middleware's Healthcheck over CONF's [healthcheck] options, with the plugins
    `checks` (ProbeHealthcheck classes) after the configured backends and the view
    given by `detailed`, whatever [healthcheck] detailed says."""

    def __init__(self, application, checks, detailed):
        self._detailed = detailed
        super().__init__(application, CONF)
        loaded = set(self._backends.names())
        self._backends.extensions.extend(
            extension.Extension(check.name, None, check, check(CONF, {}))
            for check in checks if check.name not in loaded)

    def _conf_get(self, key, group="healthcheck"):
        # oslo.middleware reads its options here, `detailed` once at construction:
        # the one place to give one process a simple and a detailed instance.
        if (group, key) == ("healthcheck", "detailed"):
            return self._detailed
        return super()._conf_get(key, group=group)


class HealthcheckEndpoint:
    """GET and HEAD of PATH answered by the simple or the detailed view of the
    service's `checks`; `shows_details(req)` says which. Any other request goes to
    `application`, as does a health check that [healthcheck] allowed_source_ranges or
    ignore_proxied_requests leave out (oslo.middleware's own rules)."""

    def __init__(self, application, checks, shows_details):
        self.application = application
        self._shows_details = shows_details
        self._simple = Healthcheck(application, checks, CONF.healthcheck.detailed)
        self._detailed = Healthcheck(application, checks, True)

    @staticmethod
    def is_health_request(req):
        # The undecoded path: a path that is not UTF-8 is the application's to refuse.
        return (req.environ.get("PATH_INFO") in (PATH, PATH + "/")
                and req.method in METHODS)

    @webob.dec.wsgify
    def __call__(self, req):
        if not self.is_health_request(req):
            return req.get_response(self.application)
        view = self._detailed if self._shows_details(req) else self._simple
        return req.get_response(view)
