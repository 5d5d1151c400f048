"""[api] flavors and images: the catalogue of what servers can be created with.

This project keeps no flavor or image records of its own (there is no Glance and no
flavor API that writes): the REST API serves these two lists, and server create
accepts only their ids. They live in the [api] group beside the API's other options.
"""
from oslo_config import cfg

from nova_console.conf import api as api_conf

# Nova's historical default flavors (ids "1".."5").
DEFAULT_FLAVORS = ["1:m1.tiny:1:512:1", "2:m1.small:1:2048:20", "3:m1.medium:2:4096:40",
                   "4:m1.large:4:8192:80", "5:m1.xlarge:8:16384:160"]

# The one image every driver boots: the fake driver's drawn screen, the qemu and
# libvirt drivers' nasm-built boot sector. A stable id, so clients may name it by id.
GUEST_IMAGE_ID = "6f0d3c27-1c4e-4a6b-9a53-2b8e1f5d7c10"
DEFAULT_IMAGES = ["%s:nova-console-guest" % GUEST_IMAGE_ID]

catalog_opts = [
    cfg.ListOpt("flavors", default=DEFAULT_FLAVORS,
                help="Flavors servers can be created with, each "
                     "'id:name:vcpus:ram_mb:disk_gb' (e.g. '1:m1.tiny:1:512:1'). "
                     "GET /flavors lists them; a server records its flavor id, and "
                     "a flavorRef that is not here is refused (400). Ids and names "
                     "must be unique. Drivers do not size guests by flavor today: "
                     "this is what the API reports and accounts. A value that does "
                     "not parse stops nova-console-api at start with the reason."),
    cfg.ListOpt("images", default=DEFAULT_IMAGES,
                help="Images servers can be created with, each 'uuid:name'. They are "
                     "what the compute drivers boot: every driver of this project "
                     "boots its own built-in guest whatever the image, so the default "
                     "is that one guest. GET /images (Nova's image proxy, "
                     "microversions below 2.36) lists them; an imageRef that is not "
                     "here is refused (400). A value that does not parse stops "
                     "nova-console-api at start with the reason."),
]


def register_opts(conf):
    conf.register_group(api_conf.api_group)
    conf.register_opts(catalog_opts, group=api_conf.api_group)


def list_opts():
    return {api_conf.api_group: catalog_opts}
