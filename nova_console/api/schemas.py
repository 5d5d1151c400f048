"""JSON schemas of the request bodies, per microversion, as Nova defines them.

Each public name is a list of Ranged(min_version, max_version, schema): the schema a
body is checked with at a request's microversion (validation.validate picks it). The
console actions and remote-consoles are built from console_types.py, the one table of
console types, so a type added there is accepted here at its microversion.

Server create accepts the fields Nova's clients send (openstackclient, novaclient,
Horizon); those this project has no use for (networks, security_groups, key_name,
metadata...) are checked as Nova checks them and otherwise ignored.
"""
import dataclasses

from nova_console.api import microversion
from nova_console import console_types

NAME_MAX_LENGTH = 255


@dataclasses.dataclass(frozen=True)
class Ranged:
    min_version: str
    max_version: str
    schema: dict


def _everywhere(schema):
    return [Ranged(microversion.MIN_VERSION, microversion.MAX_VERSION, schema)]


def _ranges(*pairs):
    """[(min_version, schema), ...] -> Ranged entries, each ending where the next starts."""
    ranged = []
    for index, (min_version, schema) in enumerate(pairs):
        if index + 1 < len(pairs):
            next_min = microversion.APIVersion.parse(pairs[index + 1][0])
            max_version = "%d.%d" % (next_min.major, next_min.minor - 1)
        else:
            max_version = microversion.MAX_VERSION
        ranged.append(Ranged(min_version, max_version, schema))
    return ranged


def _object(properties, required=(), additional=False):
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:  # draft 4 forbids an empty "required"
        schema["required"] = list(required)
    return schema


def _action(name, argument):
    """An action body: {name: argument}, nothing else."""
    return _object({name: argument}, required=[name])


# --- parameter types (Nova's nova/api/validation/parameter_types.py) ----------------

name = {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH, "format": "name"}
description = {"type": ["string", "null"], "minLength": 0, "maxLength": NAME_MAX_LENGTH,
               "pattern": r"^[^\x00-\x1f\x7f]*$"}
positive_integer = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
                    "minLength": 1}
boolean = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No",
                    "no"]}
image_id_or_empty_string = {"oneOf": [{"type": "string", "format": "uuid"},
                                      {"type": "string", "maxLength": 0}]}
flavor_ref = {"type": ["string", "integer"], "minLength": 1}
metadata = {"type": "object",
            "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string",
                                                                  "maxLength": 255}},
            "additionalProperties": False}
network_v21 = {"type": "array", "items": _object(
    {"fixed_ip": {"type": "string", "format": "ip-address"},
     "port": {"type": ["string", "null"], "format": "uuid"},
     "uuid": {"type": "string"}, "tag": {"type": "string", "maxLength": 60}})}
networks_v237 = {"oneOf": [network_v21, {"type": "string", "enum": ["none", "auto"]}]}
security_groups = {"type": "array", "items": _object({"name": {"type": "string",
                                                               "minLength": 1,
                                                               "maxLength": 255}})}
tags = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60,
                                   "pattern": "^[^,/]*$"}, "maxItems": 50}

# Nova's block_device_mapping_v2 entry (openstackclient sends the image as one:
# source_type image, destination_type local, boot_index 0).
block_device_mapping_v2 = {"type": "array", "items": _object({
    "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
    "destination_type": {"type": "string", "enum": ["local", "volume"]},
    "uuid": {"type": "string", "minLength": 1, "maxLength": 255},
    "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
    "delete_on_termination": boolean, "volume_size": {"type": ["integer", "string", "null"],
                                                      "pattern": "^[0-9]+$"},
    "device_name": {"type": "string", "minLength": 1, "maxLength": 255},
    "guest_format": {"type": "string", "maxLength": 255},
    "disk_bus": {"type": "string", "maxLength": 255},
    "device_type": {"type": "string", "maxLength": 255},
    "no_device": {}, "tag": {"type": "string", "maxLength": 60},
    "volume_type": {"type": ["string", "null"], "minLength": 0, "maxLength": 255}})}

_SERVER_V21 = {
    "name": name, "imageRef": image_id_or_empty_string, "flavorRef": flavor_ref,
    "adminPass": {"type": "string"}, "metadata": metadata, "networks": network_v21,
    "min_count": positive_integer, "max_count": positive_integer,
    "return_reservation_id": boolean, "security_groups": security_groups,
    "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
    "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
    "user_data": {"type": "string", "format": "base64", "maxLength": 65535},
    "config_drive": boolean, "accessIPv4": {"type": "string", "format": "ipv4"},
    "accessIPv6": {"type": "string", "format": "ipv6"},
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    "block_device_mapping_v2": block_device_mapping_v2,
}


def _server_create(**added):
    """Server create at some microversion: Nova's v2.1 server plus `added` fields.
    flavorRef is optional here (Nova requires it): without it a server gets the first
    of [api] flavors, so the older clients of this project keep working."""
    properties = dict(_SERVER_V21, **added)
    return _object({"server": _object(properties, required=["name"])}, required=["server"])


SERVER_CREATE = _ranges(
    ("2.1", _server_create()),
    ("2.19", _server_create(description=description)),
    ("2.37", _server_create(description=description, networks=networks_v237)),
    ("2.52", _server_create(description=description, networks=networks_v237, tags=tags)),
)

REBOOT = _everywhere(_action("reboot", _object(
    {"type": {"type": "string", "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}},
    required=["type"])))

# Nova: an integer of at least -1 (-1: everything), a string of digits, or null.
CONSOLE_OUTPUT = _everywhere(_action("os-getConsoleOutput", _object(
    {"length": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$",
                "minimum": -1}})))


def _console_action(action):
    types = [kind.name for kind in console_types.for_action(action)]
    return _everywhere(_action(action, _object(
        {"type": {"type": "string", "enum": types}}, required=["type"])))


CONSOLE_ACTIONS = {action: _console_action(action) for action in console_types.actions()}


def _remote_console(min_version):
    kinds = [kind for kind in console_types.TYPES
             if microversion.APIVersion.parse(kind.min_version)
             <= microversion.APIVersion.parse(min_version)]
    protocols = list(dict.fromkeys(kind.protocol for kind in kinds))
    return _object({"remote_console": _object(
        {"protocol": {"type": "string", "enum": protocols},
         "type": {"type": "string", "enum": [kind.name for kind in kinds]}},
        required=["protocol", "type"])}, required=["remote_console"])


REMOTE_CONSOLE_CREATE = _ranges(*[
    (version, _remote_console(version))
    for version in sorted({kind.min_version for kind in console_types.TYPES},
                          key=microversion.APIVersion.parse)])
