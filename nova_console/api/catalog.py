"""The flavors and images servers are created with, read once from [api] flavors and
[api] images (nova_console/conf/catalog.py says why they are configuration).

A value that does not parse raises CatalogConfigError when the API is built, with a
one-line reason naming the option and the entry, so nova-console-api refuses to start
instead of refusing every server create later.
"""
import dataclasses
import types

from oslo_utils import uuidutils

FLAVOR_FIELDS = ("id", "name", "vcpus", "ram_mb", "disk_gb")
IMAGE_FIELDS = ("uuid", "name")


class CatalogConfigError(ValueError):
    """[api] flavors or [api] images does not parse; str() is the one-line reason."""


@dataclasses.dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    description: str | None = None
    extra_specs: types.MappingProxyType = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({}))


@dataclasses.dataclass(frozen=True)
class Image:
    id: str
    name: str


def _fields(option, entry, names, maxsplit):
    parts = [part.strip() for part in entry.split(":", maxsplit)]
    if len(parts) != len(names) or not all(parts):
        raise CatalogConfigError("[api] %s: entry %r is not '%s'"
                                 % (option, entry, ":".join(names)))
    return parts


def _count(option, entry, field, text, minimum):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise CatalogConfigError("[api] %s: entry %r: %s must be an integer of at least %d, "
                                 "not %r" % (option, entry, field, minimum, text))
    return value


def parse_flavor(entry):
    """A Flavor from 'id:name:vcpus:ram_mb:disk_gb'."""
    flavor_id, name, vcpus, ram, disk = _fields("flavors", entry, FLAVOR_FIELDS, 4)
    return Flavor(id=flavor_id, name=name, vcpus=_count("flavors", entry, "vcpus", vcpus, 1),
                  ram=_count("flavors", entry, "ram_mb", ram, 1),
                  disk=_count("flavors", entry, "disk_gb", disk, 0))


def parse_image(entry):
    """An Image from 'uuid:name' (the name may hold colons)."""
    image_id, name = _fields("images", entry, IMAGE_FIELDS, 1)
    if not uuidutils.is_uuid_like(image_id):
        raise CatalogConfigError("[api] images: entry %r: %r is not a uuid" % (entry, image_id))
    return Image(id=image_id.lower(), name=name)


def _unique(option, items, *attributes):
    for attribute in attributes:
        seen = set()
        for item in items:
            value = getattr(item, attribute)
            if value in seen:
                raise CatalogConfigError("[api] %s: %s %r appears twice"
                                         % (option, attribute, value))
            seen.add(value)
    return tuple(items)


def _reference_id(ref):
    """The id a reference names: Nova takes flavorRef/imageRef as an id or as a URL
    whose last path segment is the id."""
    return str(ref).rstrip("/").rsplit("/", 1)[-1]


class Catalog:
    """The configured flavors and images, in configuration order."""

    def __init__(self, flavors, images):
        self.flavors = _unique("flavors", flavors, "id", "name")
        self.images = _unique("images", images, "id")
        if not self.flavors:
            raise CatalogConfigError("[api] flavors: at least one flavor is needed")
        if not self.images:
            raise CatalogConfigError("[api] images: at least one image is needed")

    @classmethod
    def from_conf(cls, conf):
        return cls([parse_flavor(entry) for entry in conf.api.flavors],
                   [parse_image(entry) for entry in conf.api.images])

    def flavor(self, ref):
        """The Flavor a flavorRef names, or None."""
        wanted = _reference_id(ref)
        return next((flavor for flavor in self.flavors if flavor.id == wanted), None)

    def image(self, ref):
        """The Image an imageRef names, or None."""
        wanted = _reference_id(ref).lower()
        return next((image for image in self.images if image.id == wanted), None)

    @property
    def default_flavor(self):
        return self.flavors[0]

    @property
    def default_image(self):
        return self.images[0]
