"""Request bodies checked against schemas.py with jsonschema, answered as Nova words it.

    validate(req, body, schemas.SERVER_CREATE)   -> body, or exception.Invalid (400)

The 400 message is Nova's: "Invalid input for field/attribute <field>. Value: <value>.
<jsonschema's message>" for an error inside the body, jsonschema's message alone for
one at its top (a missing or unexpected key), and Nova's own sentence for a name that
is not printable or has leading or trailing whitespace.
"""
import base64
import binascii

import jsonschema
from oslo_utils import netutils
from oslo_utils import uuidutils

from nova_console.api import microversion
from nova_console import exception

INVALID_NAME_REASON = "printable characters. Can not start or end with whitespace."


class InvalidName(exception.Invalid):
    msg_fmt = "An invalid 'name' value was provided. The name must be: %(reason)s"


FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks("name", raises=InvalidName)
def _is_name(value):
    if not isinstance(value, str):
        return True
    if not value.isprintable() or value != value.strip():
        raise InvalidName(reason=INVALID_NAME_REASON)
    return True


@FORMAT_CHECKER.checks("uuid")
def _is_uuid(value):
    return not isinstance(value, str) or uuidutils.is_uuid_like(value)


@FORMAT_CHECKER.checks("base64", raises=(binascii.Error, ValueError))
def _is_base64(value):
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


@FORMAT_CHECKER.checks("ipv4")
def _is_ipv4(value):
    return not isinstance(value, str) or netutils.is_valid_ipv4(value)


@FORMAT_CHECKER.checks("ipv6")
def _is_ipv6(value):
    return not isinstance(value, str) or netutils.is_valid_ipv6(value)


@FORMAT_CHECKER.checks("ip-address")
def _is_ip_address(value):
    return not isinstance(value, str) or netutils.is_valid_ip(value)


# id(schema) -> its validator. The schemas are module constants that live as long as
# the process, so their ids are never reused.
_VALIDATORS = {}


def _validator_for(schema):
    """One Draft4Validator per schema (building one per request costs more than
    validating with it)."""
    key = id(schema)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER)
    return _VALIDATORS[key]


def schema_at(req, ranged_schemas):
    """The schema of `ranged_schemas` (schemas.Ranged entries) for the request's version."""
    version = microversion.get(req)
    for entry in ranged_schemas:
        if (microversion.APIVersion.parse(entry.min_version) <= version
                <= microversion.APIVersion.parse(entry.max_version)):
            return entry.schema
    raise exception.NotFound(message="API version %s is not supported on this method."
                             % version)


def error_message(error):
    """Nova's wording of a jsonschema ValidationError."""
    if isinstance(error.cause, InvalidName):
        return error.cause.message
    if error.path:
        return "Invalid input for field/attribute %s. Value: %s. %s" % (
            error.path[-1], error.instance, error.message)
    return error.message


def validate(req, body, ranged_schemas):
    """`body` if it fits the schema of the request's microversion, else a 400 (the
    first error, as Nova reports it)."""
    validator = _validator_for(schema_at(req, ranged_schemas))
    error = next(iter(validator.iter_errors(body)), None)
    if error is not None:
        raise exception.Invalid(message=error_message(error))
    return body


def invalid_input(attribute, value, problem):
    """A 400 for a check no schema expresses, worded like the schema errors."""
    return exception.Invalid(message="Invalid input for field/attribute %s. Value: %s. %s"
                             % (attribute, value, problem))
