"""JSON in and out of the API: request bodies, responses, Nova-shaped errors."""
import json

import oslo_messaging as messaging
import webob

from nova_console import exception

JSON_CONTENT_TYPES = ("application/json", "application/vnd.openstack.compute+json")

# Nova's key of the error object, by status; any other status is a "computeFault".
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}

# Server errors whose message is meant for the caller; any other 5xx is reported
# as a generic computeFault, because its text may describe our internals.
SHOWN_SERVER_ERRORS = (501, 503)


class Unauthorized(exception.NovaConsoleException):
    msg_fmt = "Authentication required."
    code = 401


class RequestTooLarge(exception.NovaConsoleException):
    msg_fmt = "Request is too large."
    code = 413


class UnsupportedMediaType(exception.NovaConsoleException):
    msg_fmt = "Unsupported Content-Type %(content_type)s."
    code = 415


class MethodNotAllowed(exception.NovaConsoleException):
    msg_fmt = "The method %(method)s is not allowed for this resource."
    code = 405

    def __init__(self, allowed=(), **kwargs):
        super().__init__(**kwargs)
        self.allowed = sorted(allowed)


class RPCTimeout(exception.NovaConsoleException):
    msg_fmt = "A backend service did not answer in time; please retry."
    code = 503


def json_response(body, status=200, headers=None):
    response = webob.Response(status=status, content_type="application/json", charset=None)
    response.body = json.dumps(body).encode("utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def empty_response(status):
    response = webob.Response(status=status)
    del response.content_type
    return response


def fault_response(code, message, headers=None):
    """Nova's error body: {"<faultName>": {"code": <status>, "message": <text>}}."""
    name = FAULT_NAMES.get(code, "computeFault")
    return json_response({name: {"code": code, "message": message}}, status=code,
                         headers=headers)


def exception_response(exc):
    """The response for an expected error, or None when `exc` is unexpected (a bug or an
    internal failure) and must be logged and answered with a generic 500."""
    if isinstance(exc, messaging.MessagingTimeout):
        exc = RPCTimeout()
    if not isinstance(exc, exception.NovaConsoleException):
        return None
    if exc.code >= 500 and exc.code not in SHOWN_SERVER_ERRORS:
        return None
    headers = {}
    if isinstance(exc, MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allowed)
    # .message, never str(exc): a remote exception's str() carries the remote traceback.
    return fault_response(exc.code, exc.message, headers=headers)


def read_json_body(req):
    """The request's JSON document; 400 when absent or malformed, 415 when not JSON."""
    content_type = req.content_type
    if content_type and content_type not in JSON_CONTENT_TYPES:
        raise UnsupportedMediaType(content_type=content_type)
    raw = req.body
    if not raw.strip():
        raise exception.Invalid(message="Malformed request body: the body is empty.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise exception.Invalid(
            message="Malformed request body: it is not valid JSON.") from None
