"""Version documents: served without authentication, in Nova's shape."""
import pytest

from tests.unit.api.conftest import ALICE


@pytest.mark.parametrize("path", ["/v2.1", "/v2.1/"])
def test_the_v2_1_document_needs_no_token(client, path):
    response = client.get(path, token=None)
    assert response.status_int == 200
    version = response.json["version"]
    assert version["id"] == "v2.1"
    assert version["status"] == "CURRENT"
    assert (version["min_version"], version["version"]) == ("2.1", "2.99")
    assert {"rel": "self", "href": "http://localhost/v2.1/"} in version["links"]
    assert version["media-types"][0]["base"] == "application/json"
    assert version["updated"].endswith("Z")


def test_the_root_lists_the_versions_without_a_token(client):
    response = client.get("/", token=None)
    assert response.status_int == 200
    [version] = response.json["versions"]
    assert (version["id"], version["version"], version["min_version"]) == (
        "v2.1", "2.99", "2.1")


def test_version_documents_are_read_only(client):
    response = client.request("POST", "/v2.1", token=ALICE, body={})
    assert response.status_int == 405
    assert "GET" in response.headers["Allow"]
