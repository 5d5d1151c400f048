"""The unmodified OpenStack clients around consoles, on a real deployment (RabbitMQ, every
service its own process, two compute hosts with the fake driver): openstackclient's
server create / list / event list, compute service list, hypervisor list and console
connection show, and novaclient's servers.create and services.list.

openstackclient without Keystone: `--os-auth-type none --os-endpoint URL`; it looks an
image name up at <endpoint>/images (Nova's image proxy), so `--image NAME` works;
`server list` needs `--os-identity-api-version 3` (it builds an identity v3 client it
does not call).
"""
import json

import pytest

from nova_console.compute.drivers.conformance import wait_for
from nova_console.conf import catalog as catalog_conf
from tests.functional import wsclient
from tests.functional.deployment import novaclient, openstack, unique_name

HOSTS = ("compute-1", "compute-2")
GUEST_IMAGE = "nova-console-guest"


@pytest.fixture(scope="module")
def cloud(module_deployments):
    return module_deployments("clients", compute_hosts=HOSTS)


def _json(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def server(cloud):
    """A server created by `openstack server create --wait` (ACTIVE), deleted after."""
    name = unique_name("osc")
    shown = _json(openstack(cloud, "server", "create", "--flavor", "m1.tiny", "--image",
                            GUEST_IMAGE, "--wait", name, "-f", "json"))
    yield shown
    cloud.api.request("DELETE", "/v2.1/servers/%s" % shown["id"])
    cloud.api.wait_for_deleted(shown["id"])


def test_openstack_server_create_waits_until_active_with_its_flavor_and_image(cloud, server):
    assert server["status"] == "ACTIVE"
    stored = cloud.api.get_server(server["id"])
    assert stored["image"]["id"] == catalog_conf.GUEST_IMAGE_ID
    assert stored["flavor"]["id"] == "1"
    # server list insists on an identity v3 client even when it never calls it.
    listed = _json(openstack(cloud, "--os-identity-api-version", "3", "server", "list",
                             "-f", "json"))
    assert [(s["ID"], s["Status"]) for s in listed if s["ID"] == server["id"]] == [
        (server["id"], "ACTIVE")]


def test_openstack_server_create_with_an_unknown_flavor_fails_with_novas_words(cloud):
    result = openstack(cloud, "server", "create", "--flavor", "m9.huge", "--image",
                       GUEST_IMAGE, unique_name("nope"))
    assert result.returncode != 0
    assert "m9.huge" in result.stderr, result.stderr


def test_openstack_server_event_list_shows_the_create_request(cloud, server):
    events = _json(openstack(cloud, "server", "event", "list", server["id"], "-f", "json"))
    assert [event["Action"] for event in events] == ["create"]
    assert events[0]["Request ID"].startswith("req-")


def test_openstack_console_connection_show_as_admin_leads_to_the_servers_console(cloud,
                                                                                server):
    url = _json(openstack(cloud, "console", "url", "show", "--novnc", server["id"],
                          "-f", "json"))["url"]
    token = wsclient.token_from_console_url(url)
    shown = _json(openstack(cloud, "--os-compute-api-version", "2.31", "console",
                            "connection", "show", token, "-f", "json", admin=True))
    assert shown["instance_uuid"] == server["id"]


def test_openstack_hypervisor_list_shows_each_compute_host_and_its_driver(cloud):
    hypervisors = _json(openstack(cloud, "hypervisor", "list", "-f", "json", admin=True))
    assert sorted((h["Hypervisor Hostname"], h["Hypervisor Type"], h["State"])
                  for h in hypervisors) == [(host, "fake", "up") for host in HOSTS]


def test_novaclient_creates_a_server_from_an_image_id_and_a_flavor_object(cloud):
    nova = novaclient(cloud, "2.1")
    flavor = nova.flavors.find(name="m1.small")
    # novaclient dropped Nova's image proxy (its nova.glance asks an Image API): it is
    # given the image id, as users give it a Glance image id.
    server = nova.servers.create(unique_name("nova"), catalog_conf.GUEST_IMAGE_ID, flavor)
    try:
        cloud.api.wait_for_status(server.id, "ACTIVE")
        assert nova.servers.get(server.id).flavor["id"] == flavor.id
    finally:
        nova.servers.delete(server)
        cloud.api.wait_for_deleted(server.id)


def test_a_killed_compute_host_is_down_in_service_lists_and_up_again_after_restart(cloud):
    """Last in this module: it stops compute-2 for a while."""
    def states(binary="nova-console-compute"):
        services = _json(openstack(cloud, "compute", "service", "list", "-f", "json",
                                   admin=True))
        return {s["Host"]: s["State"] for s in services if s["Binary"] == binary}

    assert states() == {host: "up" for host in HOSTS}
    wait_for(lambda: states("nova-consoleauth") == {"consoleauth-1": "up"}, 30,
             message="the consoleauth worker to be listed up")
    cloud.kill_process("compute-2")
    wait_for(lambda: states() == {"compute-1": "up", "compute-2": "down"}, 60,
             message="compute-2 to be listed down")
    nova = novaclient(cloud, "2.53", token="admin:admin")
    by_host = {s.host: s.state for s in nova.services.list(binary="nova-console-compute")}
    assert by_host == {"compute-1": "up", "compute-2": "down"}
    cloud.start_process("compute-2")
    wait_for(lambda: states() == {host: "up" for host in HOSTS}, 60,
             message="compute-2 to be listed up again")
