"""SPICE and serial consoles end to end, against real QEMU guests.

Every service runs as its own process on RabbitMQ, with all four proxies; compute-1
runs the qemu driver with SPICE on. spice-html5 (Debian's) runs in headless
Chromium through nova-spicehtml5proxy; serial consoles are what a dashboard's page
opens: a WebSocket through nova-serialproxy, with the 'binary' or the 'base64'
subprotocol. The clients (openstackclient, novaclient) ask the REST API for every
console type.
"""
import json
import os
import secrets
import time

import pytest

from tests.functional import deployment as deployment_mod
from tests.functional import test_qemu_console as qemu_tests
from tests.functional import wsclient

HOST = "compute-1"
SPICE_WEB = "/usr/share/spice-html5"

pytestmark = deployment_mod.NEEDS_QEMU


unique_name = deployment_mod.unique_name
openstack = deployment_mod.openstack
novaclient = deployment_mod.novaclient


@pytest.fixture(scope="module")
def cloud(module_deployments):
    """API, one qemu compute host with SPICE and serial consoles, consoleauth, the four
    proxies; SQLite."""
    return module_deployments(
        label="spice-serial", compute_hosts=(HOST,),
        proxies=tuple(deployment_mod.PROXY_SCRIPTS),
        conf={"DEFAULT": {"compute_driver": "qemu"}, "spice": {"enabled": "true"},
              "serial_console": {"enabled": "true"}, "mks": {"enabled": "true"}})


def console_url(cloud, server_id, action, console_type):
    response = cloud.api.request("POST", "/v2.1/servers/%s/action" % server_id,
                                 {action: {"type": console_type}}, expect=200)
    return response.json()["console"]["url"]


def remote_console_url(cloud, server_id, protocol, console_type, version="2.6"):
    response = cloud.api.request(
        "POST", "/v2.1/servers/%s/remote-consoles" % server_id,
        {"remote_console": {"protocol": protocol, "type": console_type}},
        version=version, expect=200)
    return response.json()["remote_console"]["url"]


def open_serial(cloud, url, subprotocol):
    assert url.startswith(cloud.serial_base_url + "?token="), url
    return wsclient.ConsoleConnection.open(
        url[len(cloud.serial_base_url) - 1:], cloud.serial_port, subprotocol=subprotocol,
        origin=None)


# -- serial ---------------------------------------------------------------------------------

@pytest.mark.parametrize("subprotocol", ["binary", "base64"])
def test_text_typed_into_the_serial_websocket_reaches_the_guest_and_echoes_back(
        cloud, booted, subprotocol):
    server_id = booted(unique_name("serial"))
    urls = [console_url(cloud, server_id, "os-getSerialConsole", "serial"),
            remote_console_url(cloud, server_id, "serial", "serial")]
    for attempt, url in enumerate(urls):
        typed = ("hello %s %d %s\r\n" % (subprotocol, attempt, secrets.token_hex(4))).encode()
        with open_serial(cloud, url, "binary, base64" if subprotocol == "binary"
                         else "base64") as conn:
            assert conn.status == 101, conn.headers
            assert conn.headers["sec-websocket-protocol"] == subprotocol
            conn.send(typed)
            assert conn.recv_exact(len(typed)) == typed
        # The guest wrote the echo: it is in its console log too.
        deployment_mod.wait_for(
            lambda: typed.decode().strip() in qemu_tests.console_output(cloud, server_id),
            30, message="the echo in the console output")


def test_a_serial_console_url_is_refused_by_the_vnc_proxy_and_the_reverse(cloud, booted):
    server_id = booted(unique_name("types"))
    serial_url = console_url(cloud, server_id, "os-getSerialConsole", "serial")
    token = wsclient.token_from_console_url(serial_url)
    with wsclient.ConsoleConnection.open("/?token=%s" % token, cloud.proxy_port) as conn:
        assert conn.status == 403
    novnc_url = cloud.api.vnc_console_url_legacy(server_id)
    token = wsclient.token_from_console_url(novnc_url)
    with wsclient.ConsoleConnection.open("/?token=%s" % token, cloud.serial_port,
                                         origin=None) as conn:
        assert conn.status == 403


# -- SPICE ----------------------------------------------------------------------------------

def test_every_spice_channel_of_one_token_links_through_the_proxy(cloud, booted):
    server_id = booted(unique_name("link"))
    url = console_url(cloud, server_id, "os-getSPICEConsole", "spice-html5")
    assert url.startswith(cloud.spice_base_url + "?token="), url
    token = wsclient.token_from_console_url(url)
    for channel_type in (1, 2, 3, 4):  # main, display, inputs, cursor
        with wsclient.ConsoleConnection.open(
                "/websockify", cloud.spice_port,
                extra_headers=["Cookie: token=%s" % token]) as conn:
            assert conn.status == 101
            assert conn.spice_link(channel_type) == 0


_READ_SPICE_CANVAS_JS = """
const canvas = document.querySelector('#spice-screen canvas');
if (!canvas || !canvas.width || !canvas.height) { return null; }
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let yellow = 0, blue = 0;
for (let i = 0; i < data.length; i += 4) {
    const r = data[i], g = data[i + 1], b = data[i + 2];
    if (r > 200 && g > 200 && b < 128) { yellow++; }
    if (b > 128 && r < 64 && g < 64) { blue++; }
}
return [canvas.width, canvas.height, yellow, blue];
"""


def _vnc_colour_counts(cloud, server_id):
    """(width, height, yellow, blue) pixels of the instance's screen, read straight from
    its QEMU VNC server."""
    vnc_port, _serial = qemu_tests.recorded_ports(cloud, server_id)
    with wsclient.ConsoleConnection.open_direct("127.0.0.1", vnc_port) as conn:
        server_init = conn.rfb_handshake()
        pixels = conn.read_framebuffer(server_init)
    rgb = list(zip(pixels[2::4], pixels[1::4], pixels[0::4]))
    yellow = sum(1 for r, g, b in rgb if r > 200 and g > 200 and b < 128)
    blue = sum(1 for r, g, b in rgb if b > 128 and r < 64 and g < 64)
    return server_init.width, server_init.height, yellow, blue


@pytest.mark.parametrize("name_length", [4, 24])
def test_spice_html5_in_chromium_shows_the_instances_own_screen(cloud, booted, browser,
                                                                artifacts_dir, name_length):
    """The instance's name is drawn large (yellow on blue): the page's canvas has the
    size and the same yellow and blue pixel counts as the instance's screen read over
    VNC, and a longer name gives more yellow, so the count names the instance."""
    name = unique_name("s" * (name_length - 7))
    server_id = booted(name)
    expected = _vnc_colour_counts(cloud, server_id)
    url = console_url(cloud, server_id, "os-getSPICEConsole", "spice-html5")
    browser.get(url)
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        seen = browser.execute_script(_READ_SPICE_CANVAS_JS)
        if seen is not None and tuple(seen) == expected:
            break
        time.sleep(0.25)
    browser.save_screenshot(os.path.join(str(artifacts_dir), "spice-%s.png" % name))
    assert seen is not None and tuple(seen) == expected, (
        "canvas (width, height, yellow, blue) %r, the instance's screen %r; page log: %r"
        % (seen, expected, browser.execute_script(
            "const m = document.getElementById('message-div');"
            "return m ? m.textContent : null;")))
    browser.get("about:blank")  # closes the SPICE channels


# -- the clients ----------------------------------------------------------------------------

SPICE_DIRECT_BASE = "http://127.0.0.1:13002/nova"  # [spice] spice_direct_proxy_base_url


@pytest.mark.parametrize("flag,base", [
    ("--novnc", "proxy_base_url"), ("--xvpvnc", "xvp_base_url"),
    ("--spice", "spice_base_url"), ("--serial", "serial_base_url"),
    ("--spice-direct", None)])
def test_openstack_console_url_show_gives_each_url_and_the_admin_sees_its_token(
        cloud, booted, flag, base):
    server_id = booted(unique_name("osc"))
    result = openstack(cloud, "--os-compute-api-version", "2.99", "console", "url", "show",
                       flag, server_id, "-f", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    url = json.loads(result.stdout)["url"]
    assert url.startswith((getattr(cloud, base) if base else SPICE_DIRECT_BASE) + "?"), url
    token = wsclient.token_from_console_url(url)
    details = openstack(cloud, "--os-compute-api-version", "2.99", "console",
                        "connection", "show", token, "-f", "json", admin=True)
    assert details.returncode == 0, details.stdout + details.stderr
    shown = json.loads(details.stdout)
    assert shown["instance_uuid"] == server_id
    assert shown["host"] == "127.0.0.1" and shown["internal_access_path"] is None
    assert "tls_port" in shown
    if flag == "--spice-direct":  # what a native SPICE proxy connects to
        with wsclient.ConsoleConnection.open_direct(shown["host"], shown["port"]) as conn:
            assert conn.spice_link() == 0


def test_mks_is_a_clear_400_where_the_driver_has_none(cloud, booted):
    from novaclient import exceptions as nova_exceptions

    server_id = booted(unique_name("mks"))
    result = openstack(cloud, "--os-compute-api-version", "2.99", "console", "url", "show",
                       "--mks", server_id)
    assert result.returncode != 0
    assert "Unavailable console type webmks" in result.stderr, result.stderr
    with pytest.raises(nova_exceptions.BadRequest) as raised:
        novaclient(cloud, "2.8").servers.get_mks_console(server_id)
    assert "does not support MKS consoles" in str(raised.value)


def test_novaclient_gets_spice_and_serial_consoles_that_work(cloud, booted):
    server_id = booted(unique_name("nova"))
    for version in ("2.1", "2.6"):
        nova = novaclient(cloud, version)
        spice = nova.servers.get_spice_console(server_id, "spice-html5")
        serial = nova.servers.get_serial_console(server_id, "serial")
        key = "console" if version == "2.1" else "remote_console"
        spice_url, serial_url = spice[key]["url"], serial[key]["url"]
        assert spice_url.startswith(cloud.spice_base_url + "?token=")
        with wsclient.ConsoleConnection.open(
                "/websockify", cloud.spice_port, extra_headers=[
                    "Cookie: token=%s" % wsclient.token_from_console_url(spice_url)]) as conn:
            assert conn.spice_link() == 0
        with open_serial(cloud, serial_url, "binary") as conn:
            conn.send(b"\r\n")
            assert conn.recv_exact(2) == b"\r\n"
