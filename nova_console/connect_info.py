"""The connection details of one console, as every service passes them on.

A compute host makes them (where the console server listens, a new token, the
URL for the user), the API hands them to consoleauth to store, and consoleauth
gives them back, without the token, to a proxy that checks the token. Nova
carries the same fields in its ConsoleAuthToken object; here a dataclass, and
plain dicts over RPC (to_primitive / from_primitive), so that services of
different versions read each other's messages: unknown fields are ignored and
missing optional ones take their defaults.
"""
import dataclasses

from nova_console import exception

_SECRET_FIELDS = ("token", "access_url")


@dataclasses.dataclass(frozen=True)
class ConnectInfo:
    console_type: str                 # e.g. "novnc" (console_types.py)
    host: str                         # the console server, on the private network
    port: int
    internal_access_path: str | None = None  # sent as "CONNECT <path>" first, if set
    tls_port: int | None = None
    instance_uuid: str | None = None
    access_url_base: str | None = None  # the proxy's base URL the console was issued for
    expires: float | None = None      # unix time the token expires (from consoleauth)
    # Between a compute host and the API only; consoleauth never gives them out.
    token: str | None = dataclasses.field(default=None, repr=False)
    access_url: str | None = dataclasses.field(default=None, repr=False)

    def to_primitive(self):
        """A dict for an RPC message; the token and its URL only when set."""
        primitive = dataclasses.asdict(self)
        for secret in _SECRET_FIELDS:
            if primitive[secret] is None:
                del primitive[secret]
        return primitive

    @classmethod
    def from_primitive(cls, data):
        """The ConnectInfo of an RPC message's dict; exception.Invalid if it lacks the
        console type, host or port, or if the port is not a number."""
        if not isinstance(data, dict):
            raise exception.Invalid(reason="connection details must be a dict, not %s"
                                    % type(data).__name__)
        missing = [name for name in ("console_type", "host", "port") if data.get(name) is None]
        if missing:
            raise exception.Invalid(reason="connection details lack %s" % ", ".join(missing))
        values = {field.name: data[field.name] for field in dataclasses.fields(cls)
                  if field.name in data}
        for name in ("port", "tls_port"):
            if values.get(name) is not None:
                try:
                    values[name] = int(values[name])
                except (TypeError, ValueError):
                    raise exception.Invalid(reason="console %s %r is not a number"
                                            % (name, values[name]))
        return cls(**values)

    def without_secrets(self):
        """What may leave consoleauth: no token, no URL holding it."""
        return dataclasses.replace(self, token=None, access_url=None)
