"""nova-xvpvncproxy end to end: what a Java VNC viewer does, against real QEMU guests.

Every service runs as its own process on RabbitMQ; compute-1 runs the qemu driver.
The viewer's exact requests (HTTP CONNECT with the console URL's path and query,
then RFB on the same socket) come from wsclient.ConsoleConnection.open_xvp, and a
real RFB client (vncdotool) goes through the same CONNECT by a local forwarder.
What they read is compared with what QEMU's own VNC server gives directly.
"""
import os
import socket
import subprocess
import sys
import threading
import urllib.parse

import pytest

from tests.functional import deployment as deployment_mod
from tests.functional import test_qemu_console as qemu_tests
from tests.functional import wsclient

HOST = "compute-1"

pytestmark = deployment_mod.NEEDS_QEMU


unique_name = deployment_mod.unique_name


@pytest.fixture(scope="module")
def cloud(module_deployments):
    """API, one qemu compute host, consoleauth, both proxies; SQLite."""
    return module_deployments(label="xvp", compute_hosts=(HOST,),
                              conf={"DEFAULT": {"compute_driver": "qemu"}})


def direct_screen(cloud, server_id):
    """(ServerInit, pixels) straight from the instance's QEMU VNC server."""
    vnc_port, _serial = qemu_tests.recorded_ports(cloud, server_id)
    with wsclient.ConsoleConnection.open_direct("127.0.0.1", vnc_port) as conn:
        server_init = conn.rfb_handshake()
        return server_init, conn.read_framebuffer(server_init)


def test_a_java_viewer_sees_the_instances_own_name_and_screen_through_xvp(cloud, booted):
    name = unique_name("viewer")
    server_id = booted(name)
    direct_init, direct_pixels = direct_screen(cloud, server_id)
    urls = [cloud.api.vnc_console_url_legacy(server_id, console_type="xvpvnc"),
            cloud.api.vnc_console_url_remote_consoles(server_id, console_type="xvpvnc")]
    for url in urls:
        assert url.startswith(cloud.xvp_base_url + "?token="), url
        with wsclient.ConsoleConnection.open_xvp(url) as conn:
            assert conn.first_line.startswith(b"HTTP/1.1 200 "), conn.first_line
            server_init = conn.rfb_handshake()
            assert server_init.name == "QEMU (%s)" % name
            assert server_init == direct_init
            assert conn.read_framebuffer(server_init) == direct_pixels
    assert len(wsclient.distinct_colours(direct_pixels, direct_init)) > 1


class ViewerForwarder:
    """A local port that does for any RFB client what the Java viewer does first: on
    each connection, CONNECT to nova-xvpvncproxy with the console URL, check the
    '200', then relay bytes both ways."""

    def __init__(self, console_url):
        self.console_url = console_url
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answers = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        conn = wsclient.ConsoleConnection.open_xvp(self.console_url)
        self.answers.append(conn.first_line)
        if not conn.first_line.startswith(b"HTTP/1.1 200 "):
            client.close()
            return
        upstream = conn.sock
        if conn._frame_buffer:  # RFB bytes that came with the answer's head
            client.sendall(conn._frame_buffer)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()


def vncdo_capture(port, path):
    """vncdotool's capture of the VNC server at 127.0.0.1:port (a process of its own:
    its reactor runs once per process)."""
    vncdo = os.path.join(os.path.dirname(sys.executable), "vncdo")
    result = subprocess.run([vncdo, "-s", "127.0.0.1::%d" % port, "capture", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vncdotool_through_the_viewers_connect_captures_the_instances_screen(
        cloud, booted, tmp_path):
    from PIL import Image

    server_id = booted(unique_name("vncdo"))
    url = cloud.api.vnc_console_url_legacy(server_id, console_type="xvpvnc")
    forwarder = ViewerForwarder(url)
    try:
        vncdo_capture(forwarder.port, tmp_path / "through-xvp.png")
    finally:
        forwarder.close()
    assert forwarder.answers and forwarder.answers[0].startswith(b"HTTP/1.1 200 ")
    vnc_port, _serial = qemu_tests.recorded_ports(cloud, server_id)
    vncdo_capture(vnc_port, tmp_path / "direct.png")
    through = Image.open(tmp_path / "through-xvp.png").convert("RGB")
    direct = Image.open(tmp_path / "direct.png").convert("RGB")
    assert through.size == direct.size
    assert through.tobytes() == direct.tobytes(), "the screen through XVP differs"
    assert len(through.getcolors(maxcolors=1 << 16) or [None, None]) > 1


def _connect_status(cloud, path_and_query):
    url = "http://127.0.0.1:%d%s" % (cloud.xvp_port, path_and_query)
    with wsclient.ConsoleConnection.open_xvp(url) as conn:
        body = conn.read_refusal_body()
        return conn.status, conn.headers, body


def test_missing_and_bad_tokens_get_400_and_401_and_no_byte_reaches_a_console(
        cloud, booted):
    server_id = booted(unique_name("guarded"))
    url = cloud.api.vnc_console_url_legacy(server_id, console_type="xvpvnc")
    token = wsclient.token_from_console_url(url)
    novnc_url = cloud.api.vnc_console_url_legacy(server_id)

    status, headers, body = _connect_status(cloud, "/console")
    assert (status, body) == (400, b""), headers
    assert headers["x-console-refusal"] == "missing token"
    for bad in ("bad" + token, "x" * 32, wsclient.token_from_console_url(novnc_url)):
        status, headers, body = _connect_status(cloud, "/console?token=%s" % bad)
        assert (status, body) == (401, b""), (bad, headers)
    # An XVP token does not open noVNC's proxy either.
    with cloud.open_console("http://x/vnc_lite.html?path=%3Ftoken%3D" + token) as conn:
        assert conn.status == 403

    # A revoked token (its server deleted) never reaches whoever has the port now.
    vnc_port, _serial = qemu_tests.recorded_ports(cloud, server_id)
    cloud.api.delete_server(server_id)
    cloud.api.wait_for_deleted(server_id)
    impostor = deployment_mod.ImpostorConsoleServer(vnc_port)
    try:
        status, _headers, body = _connect_status(cloud, urllib.parse.urlsplit(url).path
                                                 + "?token=" + token)
        assert (status, body) == (401, b"")
        assert impostor.connections == 0
    finally:
        impostor.close()


def test_openstackclient_and_novaclient_give_the_xvp_url(cloud, booted):
    from keystoneauth1 import noauth
    from keystoneauth1 import session as ks_session
    from novaclient import client as nova_client

    name = unique_name("clients")
    server_id = booted(name)
    endpoint = "http://127.0.0.1:%d/v2.1" % cloud.api_port

    openstack = os.path.join(os.path.dirname(sys.executable), "openstack")
    result = subprocess.run(
        [openstack, "--os-auth-type", "none", "--os-endpoint", endpoint,
         "console", "url", "show", "--xvpvnc", server_id, "-f", "value", "-c", "url"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    osc_url = result.stdout.strip()
    assert osc_url.startswith(cloud.xvp_base_url + "?token="), osc_url

    nova = nova_client.Client("2.1", session=ks_session.Session(
        auth=noauth.NoAuth(endpoint=endpoint)))
    novaclient_url = nova.servers.get_vnc_console(server_id, "xvpvnc")["console"]["url"]
    assert novaclient_url.startswith(cloud.xvp_base_url + "?token=")

    for url in (osc_url, novaclient_url):
        with wsclient.ConsoleConnection.open_xvp(url) as conn:
            assert conn.status == 200
            assert conn.rfb_handshake().name == "QEMU (%s)" % name
