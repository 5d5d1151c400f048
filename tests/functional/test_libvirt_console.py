"""libvirt domains behind the compute service, end to end on RabbitMQ.

compute-1 runs the libvirt driver against a real libvirtd (<domain type='qemu'>): each
server is a domain booting the project's guest. Consoles are opened through
nova-novncproxy with the raw WebSocket RFB client; the desktop name libvirt gives the
VNC server carries the server's name and uuid, which proves which domain it reached.
"""
import os
import shutil
import tempfile

import pytest

from tests.functional.test_driver_libvirt import libvirt, libvirtd  # noqa: F401 (fixture)
from tests.functional.test_qemu_console import (console_output, ready_line, unique_name,
                                                wait_until_booted)
from tests.functional import wsclient

HOST = "compute-1"


@pytest.fixture(scope="module")
def cloud(module_deployments, libvirtd):  # noqa: F811 (the fixture imported above)
    instances_path = tempfile.mkdtemp(prefix="nova-console-libvirt-e2e-")
    os.chmod(instances_path, 0o755)  # QEMU's own user must reach the boot images
    yield module_deployments(label="libvirt", compute_hosts=(HOST,), conf={
        "DEFAULT": {"compute_driver": "libvirt"},
        "libvirt": {"connection_uri": libvirtd, "instances_path": instances_path}})
    shutil.rmtree(instances_path, ignore_errors=True)


def _domains_of(server_ids):
    conn = libvirt.open("qemu:///system")
    try:
        uuids = {dom.UUIDString() for dom in conn.listAllDomains()}
    finally:
        conn.close()
    return sorted(uuids & set(server_ids))


def test_libvirt_domains_show_their_own_consoles_through_the_proxy(cloud):
    names = [unique_name("lv-alpha"), unique_name("lv-bravo")]
    ids = {name: cloud.api.create_server(name) for name in names}
    try:
        for server_id in ids.values():
            cloud.api.wait_for_status(server_id, "ACTIVE")
        urls = {names[0]: cloud.api.vnc_console_url_legacy(ids[names[0]]),
                names[1]: cloud.api.vnc_console_url_remote_consoles(ids[names[1]])}
        for name in names:
            with cloud.open_console(urls[name]) as conn:
                assert conn.status == 101, conn.read_refusal_body()[:300]
                server_init = conn.rfb_handshake()
                assert server_init.name == "QEMU (%s [%s])" % (name, ids[name])
                colours = wsclient.distinct_colours(conn.read_framebuffer(server_init),
                                                    server_init)
                assert len(colours) > 1, "%s's screen is blank" % name
        for name in names:
            assert ready_line(name) in wait_until_booted(cloud, ids[name], name)
        assert console_output(cloud, ids[names[0]], length=1) == ready_line(names[0]) + "\n"
    finally:
        for server_id in ids.values():
            cloud.api.request("DELETE", "/v2.1/servers/%s" % server_id)
        for server_id in ids.values():
            cloud.api.wait_for_deleted(server_id)
    assert _domains_of(ids.values()) == []
    for url in urls.values():  # a deleted server's console stays shut
        with cloud.open_console(url) as conn:
            assert conn.status == 403
