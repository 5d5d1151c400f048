"""GET /v2.1/images, /images/detail, /images/{id}: Nova's image proxy, over the images
of [api] images (what the compute drivers boot, api/catalog.py). As in Nova it is
gone from microversion 2.36 (404 there).

    index   {"images": [{"id", "name", "links"}]}        ?name= filters exactly
    detail  {"images": [<image>]}   show  {"image": <image>}
    <image> = id, name, links, status "ACTIVE", progress 100, minDisk 0, minRam 0,
              metadata {}, created, updated

openstackclient and openstacksdk find an image by name here when the only endpoint
they know is this API (--os-endpoint): they ask GET <endpoint>/images/<name>, then
GET <endpoint>/images?name=<name>.
"""
from nova_console.api import servers
from nova_console.api import versions
from nova_console.api import wsgi
from nova_console import exception

PROXY_MAX_VERSION = "2.35"
# The catalogue is configuration: it has no upload time. Every image shows the date
# of the v2.1 API instead of a time that would change at each restart.
CATALOGUE_TIME = versions.UPDATED


class ImageNotFound(exception.NotFound):
    msg_fmt = "Image not found."


def basic_view(req, image):
    return {"id": image.id, "name": image.name, "links": servers.links(req, "images", image.id)}


def detail_view(req, image):
    view = basic_view(req, image)
    view.update({"status": "ACTIVE", "progress": 100, "minDisk": 0, "minRam": 0,
                 "metadata": {}, "created": CATALOGUE_TIME, "updated": CATALOGUE_TIME})
    return view


class ImagesController:

    def __init__(self, catalog):
        self.catalog = catalog

    def _listed(self, req):
        name = req.GET.get("name")
        return [image for image in self.catalog.images if name is None or image.name == name]

    def index(self, req):
        return wsgi.json_response({"images": [basic_view(req, i) for i in self._listed(req)]})

    def detail(self, req):
        return wsgi.json_response({"images": [detail_view(req, i) for i in self._listed(req)]})

    def show(self, req, image_id):
        image = self.catalog.image(image_id)
        if image is None or image.id != image_id.lower():
            raise ImageNotFound()
        return wsgi.json_response({"image": detail_view(req, image)})
