"""Microversion negotiation: Nova's headers, range and error answers."""
import pytest

from nova_console.api import microversion

LEGACY = "X-OpenStack-Nova-API-Version"
MODERN = "OpenStack-API-Version"


def test_no_version_header_means_the_minimum(client):
    response = client.get("/v2.1/servers")
    assert response.headers[LEGACY] == "2.1"
    assert response.headers[MODERN] == "compute 2.1"


def test_responses_echo_the_version_and_vary_on_both_headers(client):
    response = client.get("/v2.1/servers", version="2.42")
    assert response.headers[LEGACY] == "2.42"
    assert response.headers[MODERN] == "compute 2.42"
    vary = [v.strip() for v in response.headers["Vary"].split(",")]
    assert MODERN in vary and LEGACY in vary


def test_latest_means_the_maximum(client):
    response = client.get("/v2.1/servers", headers={MODERN: "compute latest"})
    assert response.headers[LEGACY] == microversion.MAX_VERSION == "2.99"


def test_the_modern_header_wins_over_the_legacy_one(client):
    response = client.get("/v2.1/servers", version="2.3",
                          headers={MODERN: "volume 3.0, compute 2.7"})
    assert response.headers[LEGACY] == "2.7"


def test_a_modern_header_for_another_service_falls_back_to_the_legacy_one(client):
    response = client.get("/v2.1/servers", version="2.3", headers={MODERN: "volume 3.0"})
    assert response.headers[LEGACY] == "2.3"


@pytest.mark.parametrize("version", ["2.100", "3.0", "2.0", "1.5"])
def test_a_version_out_of_range_is_not_acceptable(client, version):
    response = client.get("/v2.1/servers", version=version)
    assert response.status_int == 406
    assert response.json == {"computeFault": {"code": 406, "message": (
        "Version %s is not supported by the API. Minimum is 2.1 and maximum is 2.99."
        % version)}}


@pytest.mark.parametrize("version", ["two", "2", "2.01", "2.x", "", "v2.1", "2.1.1"])
def test_a_malformed_version_is_a_bad_request(client, version):
    response = client.get("/v2.1/servers", version=version)
    assert response.status_int == 400
    assert response.json["badRequest"]["message"].startswith("API Version String")


def test_versions_compare_numerically():
    parse = microversion.APIVersion.parse
    assert parse("2.10") > parse("2.9")
    assert parse("2.6") == parse("2.6") and parse("2.6") >= "2.6"
    assert str(parse("2.96")) == "2.96"
