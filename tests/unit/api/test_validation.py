"""Request bodies checked with jsonschema (api/schemas.py), answered in Nova's words;
the router's answer for resources this API does not have."""
import pytest

SERVERS = "/v2.1/servers"


def _message(response):
    assert response.status_int == 400, response.body
    return response.json["badRequest"]["message"]


@pytest.mark.parametrize("body,message", [
    ({}, "'server' is a required property"),
    ({"server": {"name": 12}},
     "Invalid input for field/attribute name. Value: 12. 12 is not of type 'string'"),
    ({"server": {"name": " x"}}, "An invalid 'name' value was provided. The name must be: "
                                 "printable characters. Can not start or end with whitespace."),
    ({"server": {"name": "x" * 256}}, "is too long"),
    ({"server": {"name": "x", "flavorRef": ""}}, "'' should be non-empty"),
    ({"server": {"name": "x", "user_data": "!!"}},
     "Invalid input for field/attribute user_data. Value: !!. '!!' is not a 'base64'"),
    ({"server": {"name": "x", "bogus": 1}},
     "Additional properties are not allowed ('bogus' was unexpected)"),
    ({"server": {"name": "x", "max_count": 2}}, "Only one server can be created per request."),
])
def test_server_create_errors_are_worded_as_nova(client, body, message):
    assert message in _message(client.post(SERVERS, body))


def test_server_create_fields_follow_the_microversion(client):
    body = {"server": {"name": "x", "description": "web"}}
    assert "'description' was unexpected" in _message(client.post(SERVERS, body,
                                                                  version="2.18"))
    assert client.post(SERVERS, body, version="2.19").status_int == 202
    auto = {"server": {"name": "x", "networks": "auto"}}
    assert client.post(SERVERS, auto, version="2.36").status_int == 400
    assert client.post(SERVERS, auto, version="2.37").status_int == 202


def test_what_openstackclient_sends_is_accepted(client):
    body = {"server": {"name": "x", "imageRef": "6f0d3c27-1c4e-4a6b-9a53-2b8e1f5d7c10",
                       "flavorRef": "1", "min_count": 1, "max_count": 1,
                       "networks": "auto"}}
    assert client.post(SERVERS, body, version="2.96").status_int == 202


def test_reboot_type_is_checked_by_its_schema(client, make_server):
    server_id = make_server()
    message = _message(client.post(SERVERS + "/%s/action" % server_id,
                                   {"reboot": {"type": "warm"}}))
    assert message.startswith("Invalid input for field/attribute type. Value: warm. "
                              "'warm' is not one of ['HARD', 'Hard', 'hard', 'SOFT'")


@pytest.mark.parametrize("path", ["/v2.1/os-networks", "/v2.1/os-keypairs/k1"])
def test_a_nova_resource_this_api_does_not_have_is_a_404_naming_it(client, path):
    response = client.get(path)
    assert response.status_int == 404
    assert "does not provide %s" % path.split("/")[2] in response.json["itemNotFound"][
        "message"]


def test_an_unknown_path_inside_a_known_collection_stays_a_plain_404(client):
    response = client.get(SERVERS + "/x/nothing-here")
    assert response.json["itemNotFound"]["message"] == "The resource could not be found."
