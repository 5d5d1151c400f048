"""/v2.1/os-services and /v2.1/os-hypervisors: what heartbeats say, admin only."""
import time

import pytest
import sqlalchemy as sa
from oslo_utils import uuidutils

from nova_console.api import manager as api_manager
from nova_console.compute import manager as compute_manager
from nova_console.db import api as db
from nova_console.db import models
from tests.unit.api.conftest import ADMIN, ALICE, COMPUTE_HOST


def _age(host, seconds):
    with db.get_engine().begin() as connection:
        connection.execute(sa.update(models.Service).where(models.Service.host == host)
                           .values(last_seen_up=time.time() - seconds))


@pytest.fixture
def consoleauth_beat(compute):
    api_manager.APIManager().service_heartbeat(None, "ca-1", "nova-consoleauth",
                                               topic="consoleauth")


@pytest.mark.parametrize("path", ["/v2.1/os-services", "/v2.1/os-hypervisors",
                                  "/v2.1/os-hypervisors/detail"])
def test_only_admins_see_services_and_hypervisors(client, path):
    response = client.get(path, token=ALICE)
    assert response.status_int == 403
    assert client.get(path, token=ADMIN).status_int == 200


def test_services_list_compute_hosts_and_consoleauth_in_novas_shape(client,
                                                                    consoleauth_beat):
    services = client.get("/v2.1/os-services", token=ADMIN).json["services"]
    compute, consoleauth = services
    assert set(compute) == {"id", "binary", "host", "zone", "status", "state", "updated_at",
                            "disabled_reason"}
    assert (compute["binary"], compute["host"], compute["zone"], compute["status"],
            compute["state"]) == (compute_manager.BINARY, COMPUTE_HOST, "nova", "enabled",
                                  "up")
    assert isinstance(compute["id"], int)
    assert len(compute["updated_at"]) == len("2012-10-29T13:42:05.000000")
    assert (consoleauth["binary"], consoleauth["zone"]) == ("nova-consoleauth", "internal")


def test_a_host_silent_for_longer_than_service_down_time_is_down(client, conf):
    _age(COMPUTE_HOST, conf.service_down_time + 1)
    service, = client.get("/v2.1/os-services", token=ADMIN).json["services"]
    assert service["state"] == "down"
    hypervisor, = client.get("/v2.1/os-hypervisors", token=ADMIN).json["hypervisors"]
    assert hypervisor["state"] == "down"


def test_services_filter_on_host_and_binary(client, consoleauth_beat):
    def hosts(query):
        return [s["host"] for s in client.get("/v2.1/os-services" + query,
                                              token=ADMIN).json["services"]]
    assert hosts("?host=ca-1") == ["ca-1"]
    assert hosts("?binary=" + compute_manager.BINARY) == [COMPUTE_HOST]
    assert hosts("?host=nowhere") == []


@pytest.mark.parametrize("version,forced_down,uuid_id", [
    ("2.10", False, False), ("2.11", True, False), ("2.53", True, True)])
def test_service_fields_follow_the_microversion(client, version, forced_down, uuid_id):
    service, = client.get("/v2.1/os-services", token=ADMIN, version=version).json["services"]
    assert ("forced_down" in service) is forced_down
    assert uuidutils.is_uuid_like(service["id"]) is uuid_id


def test_hypervisors_are_the_compute_hosts_with_their_driver(client, make_server):
    api_manager.APIManager().service_heartbeat(None, COMPUTE_HOST, compute_manager.BINARY,
                                               topic="compute", hypervisor_type="qemu")
    make_server()
    hypervisor, = client.get("/v2.1/os-hypervisors", token=ADMIN).json["hypervisors"]
    assert set(hypervisor) == {"id", "hypervisor_hostname", "state", "status"}
    assert (hypervisor["hypervisor_hostname"], hypervisor["state"],
            hypervisor["status"]) == (COMPUTE_HOST, "up", "enabled")
    detail, = client.get("/v2.1/os-hypervisors/detail", token=ADMIN).json["hypervisors"]
    assert (detail["hypervisor_type"], detail["running_vms"]) == ("qemu", 1)
    assert detail["service"] == {"host": COMPUTE_HOST, "id": hypervisor["id"],
                                 "disabled_reason": None}


def test_a_heartbeat_without_a_driver_keeps_the_one_last_reported(client):
    manager = api_manager.APIManager()
    manager.service_heartbeat(None, COMPUTE_HOST, compute_manager.BINARY,
                              hypervisor_type="libvirt")
    manager.service_heartbeat(None, COMPUTE_HOST, compute_manager.BINARY)  # an RPC 1.1 host
    detail, = client.get("/v2.1/os-hypervisors/detail", token=ADMIN).json["hypervisors"]
    assert detail["hypervisor_type"] == "libvirt"


def test_hypervisor_capacity_fields_are_gone_from_2_88(client):
    old, = client.get("/v2.1/os-hypervisors/detail", token=ADMIN,
                      version="2.87").json["hypervisors"]
    new, = client.get("/v2.1/os-hypervisors/detail", token=ADMIN,
                      version="2.88").json["hypervisors"]
    assert "running_vms" in old and "vcpus" in old
    assert "running_vms" not in new and "vcpus" not in new


def test_hypervisor_show_by_id_and_by_uuid_from_2_53(client):
    hypervisor, = client.get("/v2.1/os-hypervisors", token=ADMIN).json["hypervisors"]
    shown = client.get("/v2.1/os-hypervisors/%s" % hypervisor["id"], token=ADMIN)
    assert shown.json["hypervisor"]["hypervisor_hostname"] == COMPUTE_HOST
    new, = client.get("/v2.1/os-hypervisors", token=ADMIN, version="2.53").json["hypervisors"]
    assert client.get("/v2.1/os-hypervisors/" + new["id"], token=ADMIN,
                      version="2.53").status_int == 200


def test_an_unknown_hypervisor_is_a_404_and_a_non_uuid_from_2_53_a_400(client):
    response = client.get("/v2.1/os-hypervisors/77", token=ADMIN)
    assert response.status_int == 404
    assert response.json["itemNotFound"]["message"] == (
        "Hypervisor with ID '77' could not be found.")
    response = client.get("/v2.1/os-hypervisors/77", token=ADMIN, version="2.53")
    assert response.status_int == 400
    assert response.json["badRequest"]["message"] == "Invalid uuid 77"
