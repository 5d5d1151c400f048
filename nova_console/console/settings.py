"""What one console proxy is: its settings, read from the configuration once.

The handler, the fronts and the relay of a proxy read these, never CONF: so one
process (the all-in-one) hosts several proxies, each with its own port, web
root, console types and fronts, and a test builds exactly the proxy it needs.
Each proxy's module (novnc.py, xvp.py) says what is its own; from_conf() adds
what every proxy shares ([console], [consoleauth], [DEFAULT] TLS options).
"""
import dataclasses

from oslo_utils import importutils
from websockify import auth_plugins

from nova_console.console import events
from nova_console.console import negotiator as negotiator_mod
from nova_console.console import websocket
from nova_console import conf as nc_conf

CONF = nc_conf.CONF


@dataclasses.dataclass(frozen=True)
class TLSSettings:
    """The proxies' public TLS ([DEFAULT] cert, key, ssl_only; [console] ssl_*)."""

    cert: str
    key: str | None = None
    ssl_only: bool = False
    ciphers: str | None = None
    minimum_version: str = "default"

    @classmethod
    def from_conf(cls):
        return cls(cert=CONF.cert, key=CONF.key, ssl_only=CONF.ssl_only,
                   ciphers=CONF.console.ssl_ciphers,
                   minimum_version=CONF.console.ssl_minimum_version)


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    name: str                                 # e.g. "nova-novncproxy", for logs and events
    host: str                                 # where it listens
    port: int
    console_types: tuple                      # token console types it serves
    fronts: tuple                             # fronts.Front objects, one per HTTP method
    web_root: str | None = None               # files it serves by GET (None: none)
    token_cookie: bool = False                # its clients send the token as a cookie
    allowed_origins: tuple = ()
    request_timeout: float = 30.0             # seconds to send a request head
    backend_connect_timeout: float = 10.0
    enforce_session_timeout: bool = False     # end sessions when their token expires
    max_message_bytes: int = websocket.MAX_MESSAGE_BYTES
    negotiator: negotiator_mod.Negotiator = negotiator_mod.NO_NEGOTIATION
    observers: tuple = (events.LOG_OBSERVER,)
    auth_plugin: object | None = None         # a websockify auth plugin instance
    tls: TLSSettings | None = None            # None: plain connections only
    listen_ipv6: bool = False
    own_options: frozenset = frozenset()      # fields its proxy set, not CONF: kept on reload

    def reloaded(self):
        """These settings with the reloadable options as CONF has them now."""
        fresh = {key: value for key, value in reloadable_from_conf().items()
                 if key not in self.own_options}
        return dataclasses.replace(self, **fresh)

    def front_for(self, method):
        """The front that answers requests of `method`, or None."""
        return next((front for front in self.fronts if front.method == method), None)

    @property
    def allowed_methods(self):
        methods = [front.method for front in self.fronts]
        if self.web_root or "GET" in methods:
            methods = ["GET", "HEAD"] + [m for m in methods if m != "GET"]
        return tuple(methods)


def load_auth_plugin(name, source):
    """An instance of websockify auth plugin `name`: a class of
    websockify.auth_plugins ("BasicHTTPAuth") or "package.module.Class"."""
    if "." not in name:
        name = "%s.%s" % (auth_plugins.__name__, name)
    return importutils.import_class(name)(source)


def reloadable_from_conf():
    """What every proxy reads from CONF and applies again on SIGHUP (its options are
    mutable): a new TLS certificate, new limits, new origins."""
    return {
        "allowed_origins": tuple(CONF.console.allowed_origins),
        "request_timeout": CONF.console.request_timeout,
        "backend_connect_timeout": CONF.console.backend_connect_timeout,
        "enforce_session_timeout": CONF.consoleauth.enforce_session_timeout,
        "tls": TLSSettings.from_conf(),
    }


def from_conf(name, host, port, console_types, fronts, **own):
    """The settings of proxy `name`: what every proxy reads from CONF, and its
    `own` settings (web_root, negotiator, ...) on top."""
    shared = dict(reloadable_from_conf(), listen_ipv6=CONF.source_is_ipv6)
    if CONF.console.auth_plugin:
        shared["auth_plugin"] = load_auth_plugin(CONF.console.auth_plugin,
                                                 CONF.console.auth_source)
    shared.update(own)
    return ProxySettings(name=name, host=host, port=port, console_types=tuple(console_types),
                         fronts=tuple(fronts), **shared, own_options=frozenset(own))
