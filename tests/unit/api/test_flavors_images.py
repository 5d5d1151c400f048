"""/v2.1/flavors and /v2.1/images: the [api] catalogue in Nova's shapes per microversion,
and server create refusing what is not in it."""
import pytest

from nova_console.api import app as api_app
from nova_console.api import catalog
from nova_console.conf import catalog as catalog_conf
from nova_console.db import api as db
from tests.unit.api.conftest import Client

GUEST = catalog_conf.GUEST_IMAGE_ID


def test_flavor_index_lists_the_default_flavors_with_links(client):
    flavors = client.get("/v2.1/flavors").json["flavors"]
    assert [f["name"] for f in flavors] == ["m1.tiny", "m1.small", "m1.medium", "m1.large",
                                            "m1.xlarge"]
    assert flavors[0] == {"id": "1", "name": "m1.tiny", "links": [
        {"rel": "self", "href": "http://localhost/v2.1/flavors/1"},
        {"rel": "bookmark", "href": "http://localhost/flavors/1"}]}


def test_flavor_show_has_novas_fields_and_an_empty_string_swap_before_2_75(client):
    flavor = client.get("/v2.1/flavors/1").json["flavor"]
    assert {key: flavor[key] for key in flavor if key != "links"} == {
        "id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1,
        "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True, "rxtx_factor": 1.0, "swap": ""}


@pytest.mark.parametrize("version,description,extra_specs,swap", [
    ("2.54", False, False, ""), ("2.55", True, False, ""), ("2.61", True, True, ""),
    ("2.75", True, True, 0)])
def test_flavor_fields_follow_the_microversion(client, version, description, extra_specs,
                                               swap):
    flavor = client.get("/v2.1/flavors/detail", version=version).json["flavors"][0]
    assert ("description" in flavor) is description
    assert ("extra_specs" in flavor) is extra_specs
    assert flavor["swap"] == swap
    index = client.get("/v2.1/flavors", version=version).json["flavors"][0]
    assert ("description" in index) is description


def test_an_unknown_flavor_is_a_404_worded_as_nova(client):
    response = client.get("/v2.1/flavors/42")
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == "Flavor 42 could not be found."


def test_configured_flavors_replace_the_defaults(conf, compute):
    conf.set_override("flavors", ["f1:tiny:2:256:0"], group="api")
    compute.catalog = catalog.Catalog.from_conf(conf)
    flavors = Client(api_app.make_app(compute_api=compute)).get("/v2.1/flavors/detail")
    assert [(f["id"], f["vcpus"], f["ram"], f["disk"]) for f in flavors.json["flavors"]] == [
        ("f1", 2, 256, 0)]


@pytest.mark.parametrize("option,value,reason", [
    ("flavors", ["1:m1.tiny:1:512"], "is not 'id:name:vcpus:ram_mb:disk_gb'"),
    ("flavors", ["1:m1.tiny:one:512:1"], "vcpus must be an integer of at least 1"),
    ("flavors", ["1:a:1:512:1", "1:b:1:512:1"], "id '1' appears twice"),
    ("flavors", [], "at least one flavor is needed"),
    ("images", ["not-a-uuid:guest"], "'not-a-uuid' is not a uuid"),
    ("images", [GUEST], "is not 'uuid:name'"),
])
def test_a_catalogue_that_does_not_parse_stops_the_app_build_with_the_reason(
        conf, compute_rpc, consoleauth_rpc, option, value, reason):
    from nova_console.compute import api as compute_api
    conf.set_override(option, value, group="api")
    with pytest.raises(catalog.CatalogConfigError) as raised:
        api_app.make_app(compute_api=compute_api.API(compute_api=compute_rpc,
                                                     consoleauth_api=consoleauth_rpc))
    assert reason in str(raised.value)
    assert "[api] %s" % option in str(raised.value)
    assert "\n" not in str(raised.value)


def test_image_proxy_lists_what_the_drivers_boot(client):
    images = client.get("/v2.1/images").json["images"]
    assert [(i["id"], i["name"]) for i in images] == [(GUEST, "nova-console-guest")]
    image = client.get("/v2.1/images/" + GUEST).json["image"]
    assert (image["status"], image["progress"], image["minDisk"], image["minRam"]) == (
        "ACTIVE", 100, 0, 0)
    assert client.get("/v2.1/images/detail").json["images"] == [image]


def test_image_proxy_filters_on_the_exact_name(client):
    assert len(client.get("/v2.1/images?name=nova-console-guest").json["images"]) == 1
    assert client.get("/v2.1/images?name=nova-console").json["images"] == []


def test_an_unknown_image_is_a_404_worded_as_nova(client):
    response = client.get("/v2.1/images/cirros")
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == "Image not found."


@pytest.mark.parametrize("path", ["/v2.1/images", "/v2.1/images/detail", "/v2.1/images/" + GUEST])
def test_the_image_proxy_is_gone_from_2_36_as_in_nova(client, path):
    assert client.get(path, version="2.35").status_int == 200
    response = client.get(path, version="2.36")
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == (
        "API version 2.36 is not supported on this method.")


def test_create_records_the_flavor_and_image_it_names(client):
    response = client.post("/v2.1/servers", {"server": {
        "name": "a", "flavorRef": "http://localhost/flavors/3", "imageRef": GUEST}})
    stored = db.instance_get_by_uuid(response.json["server"]["id"])
    assert (stored["flavor_ref"], stored["image_ref"]) == ("3", GUEST)


def test_create_without_refs_gets_the_first_flavor_and_image(client):
    response = client.post("/v2.1/servers", {"server": {"name": "a"}})
    stored = db.instance_get_by_uuid(response.json["server"]["id"])
    assert (stored["flavor_ref"], stored["image_ref"]) == ("1", GUEST)


def test_create_with_an_unknown_flavor_is_a_400_worded_as_nova(client):
    response = client.post("/v2.1/servers", {"server": {"name": "a", "flavorRef": "99"}})
    assert response.status_int == 400
    assert response.json["badRequest"]["message"] == "Invalid flavorRef provided."
    assert db.instance_get_all() == []


def test_create_with_an_unknown_image_is_a_400_worded_as_nova(client):
    response = client.post("/v2.1/servers", {"server": {
        "name": "a", "imageRef": "0b5c5c1e-0000-4000-8000-000000000000"}})
    assert response.status_int == 400
    assert response.json["badRequest"]["message"] == "Can not find requested image"
    assert db.instance_get_all() == []


def test_server_show_embeds_its_flavor_from_2_47(client, make_server):
    server_id = make_server()
    assert client.get("/v2.1/servers/" + server_id, version="2.46").json["server"][
        "flavor"]["id"] == "1"
    assert client.get("/v2.1/servers/" + server_id, version="2.47").json["server"][
        "flavor"] == {"original_name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1,
                      "ephemeral": 0, "swap": 0, "extra_specs": {}}
