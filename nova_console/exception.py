"""Errors that cross RPC keep their class (see rpc.ALLOWED_EXMODS); `code` is their HTTP status."""


class NovaConsoleException(Exception):
    """Base error: a message template filled from keyword arguments.

    oslo.messaging rebuilds a remote exception as ``cls(*args, **kwargs)`` from
    the ``kwargs`` attribute, so every subclass keeps its arguments there.
    """

    msg_fmt = "An unknown error occurred."
    code = 500

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if not message:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)


class Invalid(NovaConsoleException):
    msg_fmt = "Invalid input: %(reason)s"
    code = 400


class ConsoleTypeInvalid(Invalid):
    msg_fmt = "Invalid console type %(console_type)s"


class ConsoleTypeUnavailable(Invalid):
    msg_fmt = "Unavailable console type %(console_type)s."


class NotFound(NovaConsoleException):
    msg_fmt = "Resource could not be found."
    code = 404


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class InstanceActionNotFound(NotFound):
    msg_fmt = "Action %(request_id)s not found"  # Nova's API words it so


class ConsoleTokenNotFound(NotFound):
    msg_fmt = "The token is invalid or has expired."


class ComputeHostNotFound(NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class Conflict(NovaConsoleException):
    code = 409


class InstanceNotReady(Conflict):
    msg_fmt = "Instance %(instance_id)s is not ready"


class InstanceInvalidState(Conflict):
    msg_fmt = ("Cannot '%(action)s' instance %(instance_uuid)s while it is in "
               "%(attr)s %(state)s")


class NoValidHost(NovaConsoleException):
    msg_fmt = "No valid host was found. %(reason)s"
    code = 500


class ConsoleNotAvailable(NovaConsoleException):
    msg_fmt = "Guest does not have a console available."
    code = 409


class NotImplementedByDriver(NovaConsoleException):
    msg_fmt = "Driver %(driver)s does not support %(feature)s."
    code = 501


class DriverLoadError(NovaConsoleException):
    msg_fmt = "Could not load compute driver %(driver)s: %(reason)s"


class ComputeUnavailable(NovaConsoleException):
    msg_fmt = "Compute host %(host)s did not answer in time."
    code = 503


class Forbidden(NovaConsoleException):
    msg_fmt = "Not authorized."
    code = 403


class InstanceNotRunning(InstanceNotReady):
    msg_fmt = "Instance %(instance_id)s is not running."


class InstanceDeployFailure(NovaConsoleException):
    msg_fmt = "Failed to deploy instance %(instance_id)s: %(reason)s"


class SocketPortRangeExhaustedException(NovaConsoleException):
    msg_fmt = ("Not able to acquire a free port for %(host)s: every port of the range "
               "%(port_range)s is in use.")
