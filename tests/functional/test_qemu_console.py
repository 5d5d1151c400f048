"""QEMU instances behind the compute service, end to end on RabbitMQ.

Every service runs as its own process; compute-1 runs the qemu driver, so each server is
a qemu-system-x86_64 process booting the project's guest, which shows its name on the
screen and writes "nova_console guest <name> ready" to its serial port. Consoles are
opened through nova-novncproxy with the raw WebSocket RFB client; what it reads (the
desktop name in ServerInit, the screen) proves which instance it reached.
"""
import json
import os
import signal
import time

import pytest

from tests.functional import deployment as deployment_mod
from tests.functional import wsclient

HOST = "compute-1"
BOOT_TIMEOUT = 20.0

pytestmark = deployment_mod.NEEDS_QEMU


unique_name = deployment_mod.unique_name


def ready_line(name):
    return "nova_console guest %s ready" % name


@pytest.fixture(scope="module")
def cloud(module_deployments):
    """API, one qemu compute host, consoleauth, nova-novncproxy; SQLite."""
    return module_deployments(label="qemu", compute_hosts=(HOST,),
                              conf={"DEFAULT": {"compute_driver": "qemu"}})


@pytest.fixture
def servers(cloud):
    """create(name) -> id of a server (not waited for); all deleted after the test, and
    none of their QEMU processes left."""
    created = []

    def create(name):
        server_id = cloud.api.create_server(name)
        created.append(server_id)
        return server_id

    yield create
    for server_id in created:
        if cloud.api.request("GET", "/v2.1/servers/%s" % server_id).status_code == 200:
            cloud.api.request("DELETE", "/v2.1/servers/%s" % server_id)
    for server_id in created:
        cloud.api.wait_for_deleted(server_id)
        assert qemu_processes(cloud, server_id) == []


def qemu_processes(cloud, server_id):
    return deployment_mod.instance_processes(cloud.state_path(HOST), uuid=server_id)


def console_output(cloud, server_id, length=None, expect=200):
    argument = {} if length is None else {"length": length}
    response = cloud.api.request("POST", "/v2.1/servers/%s/action" % server_id,
                                 {"os-getConsoleOutput": argument}, expect=expect)
    return response.json()["output"]


def wait_until_booted(cloud, server_id, name):
    return deployment_mod.wait_for(
        lambda: ready_line(name) in console_output(cloud, server_id) and
        console_output(cloud, server_id), BOOT_TIMEOUT, interval=0.2,
        message="%s to write its ready line" % name)


def recorded_ports(cloud, server_id):
    """(VNC port, serial port) the qemu driver recorded for the instance."""
    path = os.path.join(cloud.state_path(HOST), "instances", server_id, "instance.json")
    with open(path, encoding="utf-8") as record:
        record = json.load(record)
    return record["vnc_port"], record["serial_port"]


def token_port(cloud, url):
    """The VNC port a console URL's token leads to (admin API, microversion 2.31)."""
    token = wsclient.token_from_console_url(url)
    response = cloud.admin_api.request("GET", "/v2.1/os-console-auth-tokens/%s" % token,
                                       version="2.31", expect=200)
    return int(response.json()["console"]["port"])


def assert_console_shows(cloud, url, name, screen=False):
    """The console URL opens, through the proxy, the VNC server of instance `name`."""
    with cloud.open_console(url) as conn:
        assert conn.status == 101, "console refused: %d %r" % (
            conn.status, conn.read_refusal_body()[:300])
        server_init = conn.rfb_handshake()
        assert server_init.name == "QEMU (%s)" % name
        if screen:
            colours = wsclient.distinct_colours(conn.read_framebuffer(server_init), server_init)
            assert len(colours) > 1, "%s's screen is blank" % name


def test_qemu_instances_keep_their_consoles_across_a_compute_crash(cloud, servers):
    started = time.monotonic()
    names = [unique_name("alpha"), unique_name("bravo")]
    victim = unique_name("victim")
    ids = {name: servers(name) for name in names + [victim]}
    for server_id in ids.values():
        cloud.api.wait_for_status(server_id, "ACTIVE")

    # Console output is what each guest wrote to its serial port, control characters
    # (its CR LF line ends) stripped.
    for name in names:
        output = wait_until_booted(cloud, ids[name], name)
        assert "\r" not in output
        assert console_output(cloud, ids[name], length=1) == ready_line(name) + "\n"

    # Each console, through the proxy, is that instance's own VNC server and screen.
    urls = {name: cloud.api.vnc_console_url_legacy(ids[name]) for name in names}
    for name in names:
        assert_console_shows(cloud, urls[name], name, screen=True)
    ports = {name: recorded_ports(cloud, ids[name]) for name in names}
    assert {name: token_port(cloud, urls[name]) for name in names} == {
        name: ports[name][0] for name in names}

    # The compute service crashes; its instances run on (QEMU has a session of its own),
    # except one that dies while nobody watches.
    cloud.kill_process(HOST)
    assert all(qemu_processes(cloud, ids[name]) for name in names)
    for pid in qemu_processes(cloud, ids[victim]):
        os.kill(pid, signal.SIGKILL)
    deployment_mod.wait_for(lambda: not qemu_processes(cloud, ids[victim]), 10,
                            message="the victim's QEMU to exit")
    cloud.start_process(HOST, wait_pattern=r"Instance states of %s synced" % HOST)

    # Running instances are re-adopted and still listed ACTIVE; the dead one is ERROR and
    # says why.
    detail = cloud.api.request("GET", "/v2.1/servers/detail", expect=200).json()["servers"]
    by_id = {server["id"]: server for server in detail}
    for name in names:
        assert by_id[ids[name]]["status"] == "ACTIVE"
    assert by_id[ids[victim]]["status"] == "ERROR"
    assert "vanished from the hypervisor" in by_id[ids[victim]]["fault"]["message"]
    response = cloud.api.request("POST", "/v2.1/servers/%s/action" % ids[victim],
                                 {"os-getVNCConsole": {"type": "novnc"}})
    assert response.status_code == 409, response.text

    # Their consoles work: tokens issued before the crash pass the restarted host's port
    # check, and new ones too.
    for name in names:
        assert_console_shows(cloud, urls[name], name)
        assert_console_shows(cloud, cloud.api.vnc_console_url_legacy(ids[name]), name)
        assert recorded_ports(cloud, ids[name]) == ports[name]

    # A new instance never gets a VNC or serial port an adopted one holds.
    charlie = unique_name("charlie")
    ids[charlie] = servers(charlie)
    cloud.api.wait_for_status(ids[charlie], "ACTIVE")
    vnc_port, serial_port = recorded_ports(cloud, ids[charlie])
    assert vnc_port not in {vnc for vnc, _serial in ports.values()}
    assert serial_port not in {serial for _vnc, serial in ports.values()}
    url = cloud.api.vnc_console_url_legacy(ids[charlie])
    assert token_port(cloud, url) == vnc_port
    assert_console_shows(cloud, url, charlie)

    # Deleting them leaves no QEMU behind.
    for server_id in ids.values():
        cloud.api.delete_server(server_id)
    for server_id in ids.values():
        cloud.api.wait_for_deleted(server_id)
        assert qemu_processes(cloud, server_id) == []
    print("scenario took %.1f s" % (time.monotonic() - started))


def test_reboot_boots_the_guest_again_on_the_same_console(cloud, servers):
    name = unique_name("reboot")
    server_id = servers(name)
    cloud.api.wait_for_status(server_id, "ACTIVE")
    wait_until_booted(cloud, server_id, name)
    url = cloud.api.vnc_console_url_legacy(server_id)

    response = cloud.api.request("POST", "/v2.1/servers/%s/action" % server_id,
                                 {"reboot": {"type": "HARD"}})
    assert response.status_code == 202, response.text
    cloud.api.wait_for_status(server_id, "ACTIVE")
    deployment_mod.wait_for(
        lambda: console_output(cloud, server_id).count(ready_line(name)) == 2, BOOT_TIMEOUT,
        interval=0.2, message="the guest to boot a second time")
    assert_console_shows(cloud, url, name)


def test_an_exhausted_port_range_fails_the_build_readably_and_leaks_nothing(deployments):
    port = deployment_mod.free_port()
    cloud = deployments(label="qemu-one-port", compute_hosts=(HOST,),
                        conf={"DEFAULT": {"compute_driver": "qemu"},
                              "qemu": {"vnc_port_range": "%d:%d" % (port, port)}})
    # The start-up probe's server had the port: wait until its host has destroyed it.
    deployment_mod.wait_for(
        lambda: cloud.admin_api.request("GET", "/v2.1/servers?all_tenants=1",
                                        expect=200).json()["servers"] == [],
        10, message="the probe servers to be deleted")
    first = cloud.api.create_server(unique_name("first"))
    cloud.api.wait_for_status(first, "ACTIVE")
    assert recorded_ports(cloud, first)[0] == port

    second = cloud.api.create_server(unique_name("second"))
    server = cloud.api.wait_for_status(second, "ERROR")
    assert server["fault"]["message"] == (
        "Not able to acquire a free port for 127.0.0.1: every port of the range %d:%d "
        "([qemu] vnc_port_range) is in use." % (port, port))
    assert qemu_processes(cloud, second) == []
    assert not os.path.exists(os.path.join(cloud.state_path(HOST), "instances", second))
    response = cloud.api.request("POST", "/v2.1/servers/%s/action" % second,
                                 {"os-getConsoleOutput": {}})
    assert response.status_code == 409, response.text

    # Deleting the first gives its port back: the range's only port serves a new server.
    for server_id in (first, second):
        cloud.api.delete_server(server_id)
        cloud.api.wait_for_deleted(server_id)
    third_name = unique_name("third")
    third = cloud.api.create_server(third_name)
    cloud.api.wait_for_status(third, "ACTIVE")
    assert_console_shows(cloud, cloud.api.vnc_console_url_legacy(third), third_name)
    cloud.api.delete_server(third)
    cloud.api.wait_for_deleted(third)
    assert qemu_processes(cloud, third) == []
