"""Compute API microversions: which one a request asks for, and the headers that echo it.

A request names its version in ``OpenStack-API-Version: compute 2.x`` or, the older way,
``X-OpenStack-Nova-API-Version: 2.x`` (the first wins when both are sent); "latest" means
MAX_VERSION and no header means MIN_VERSION, as in Nova.
"""
import functools
import re

import webob.dec

from nova_console import exception

MIN_VERSION = "2.1"
MAX_VERSION = "2.99"

SERVICE_TYPE = "compute"
HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
ENV_KEY = "nova_console.api_version"

# Nova's format: no leading zeros, e.g. "2.1", "2.10"; never "2.01".
_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


class InvalidVersionString(exception.Invalid):
    msg_fmt = ("API Version String %(version)s is of invalid format. Must be of format "
               "MajorNum.MinorNum.")


class VersionNotAcceptable(exception.NovaConsoleException):
    msg_fmt = ("Version %(version)s is not supported by the API. Minimum is %(min_version)s "
               "and maximum is %(max_version)s.")
    code = 406


@functools.total_ordering
class APIVersion:
    """A "major.minor" version, ordered numerically (2.10 > 2.9)."""

    def __init__(self, major, minor):
        self.major = major
        self.minor = minor

    @classmethod
    def parse(cls, text):
        match = _VERSION_RE.match(text)
        if match is None:
            raise InvalidVersionString(version=text)
        return cls(int(match.group(1)), int(match.group(2)))

    def _key(self):
        return (self.major, self.minor)

    def __eq__(self, other):
        if isinstance(other, str):
            other = APIVersion.parse(other)
        return self._key() == other._key()

    def __lt__(self, other):
        if isinstance(other, str):
            other = APIVersion.parse(other)
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return "%d.%d" % self._key()

    __repr__ = __str__


def requested_version_string(headers):
    """The version text a request asks for, or None when it names none."""
    for entry in headers.get(HEADER, "").split(","):
        service, _sep, version = entry.strip().partition(" ")
        if service.lower() == SERVICE_TYPE:
            return version.strip()
    legacy = headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy is not None else None


def from_headers(headers):
    """The APIVersion a request asks for; 400 when malformed, 406 when out of range."""
    text = requested_version_string(headers)
    if text is None:
        return APIVersion.parse(MIN_VERSION)
    if text.lower() == "latest":
        return APIVersion.parse(MAX_VERSION)
    version = APIVersion.parse(text)
    if not APIVersion.parse(MIN_VERSION) <= version <= APIVersion.parse(MAX_VERSION):
        raise VersionNotAcceptable(version=text, min_version=MIN_VERSION,
                                   max_version=MAX_VERSION)
    return version


def get(req):
    """The version of a request that went through MicroversionMiddleware."""
    return req.environ[ENV_KEY]


def is_supported(req, min_version):
    return get(req) >= APIVersion.parse(min_version)


def add_version_headers(response, version):
    response.headers[HEADER] = "%s %s" % (SERVICE_TYPE, version)
    response.headers[LEGACY_HEADER] = str(version)
    vary = [value.strip() for value in response.headers.get("Vary", "").split(",")
            if value.strip()]
    for name in (HEADER, LEGACY_HEADER):
        if name not in vary:
            vary.append(name)
    response.headers["Vary"] = ", ".join(vary)


class MicroversionMiddleware:
    """Stores the request's version in the environ; echoes it on every response."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        version = from_headers(req.headers)
        req.environ[ENV_KEY] = version
        response = req.get_response(self.application)
        add_version_headers(response, version)
        return response
