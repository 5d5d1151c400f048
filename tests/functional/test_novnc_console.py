"""noVNC consoles end to end: REST API -> compute host -> consoleauth -> nova-novncproxy.

Every service runs as its own process on a real RabbitMQ; the fake compute driver's
instances are real RFB servers that draw their own name, so what a client sees
proves which instance it was given. Each test names the guarantee it checks.
"""
import os
import signal
import threading
import time
import urllib.parse

import pytest

from tests.functional import deployment as deployment_mod
from tests.functional import novnc_page
from tests.functional import wsclient

# The fake driver's screen size (fake_display.RFBDisplay's default).
SCREEN_SIZE = (640, 400)


unique_name = deployment_mod.unique_name


@pytest.fixture(scope="module")
def cloud(module_deployments):
    """API, two compute hosts, one consoleauth worker, nova-novncproxy; SQLite."""
    return module_deployments(label="novnc", compute_hosts=("compute-1", "compute-2"))


@pytest.fixture
def servers(cloud):
    """create(name, api=None) -> id of an ACTIVE server; all deleted after the test."""
    created = []

    def create(name, api=None):
        api = api or cloud.api
        server_id = api.create_server(name)
        created.append((api, server_id))
        api.wait_for_status(server_id, "ACTIVE")
        return server_id

    yield create
    if not cloud.processes["api"].running:
        return  # the test stopped the deployment
    for api, server_id in created:
        if api.request("GET", "/v2.1/servers/%s" % server_id).status_code == 200:
            api.delete_server(server_id)


def assert_console_opens(deployment, url, expected_name=None):
    """The console URL's WebSocket answers 101 and relays the VM's RFB 3.8 greeting
    (and, if expected_name is given, a ServerInit naming that instance)."""
    with deployment.open_console(url) as conn:
        assert conn.status == 101, "console refused: %d %r" % (
            conn.status, conn.read_refusal_body()[:300])
        if expected_name is None:
            assert conn.read_rfb_version() == wsclient.RFB_VERSION_3_8
        else:
            server_init = conn.rfb_handshake()
            assert server_init.name == expected_name
            assert (server_init.width, server_init.height) == SCREEN_SIZE


def assert_console_refused(deployment, url, status=403, **open_kwargs):
    """The proxy refuses the WebSocket with an HTTP error and not one byte of RFB."""
    with deployment.open_console(url, **open_kwargs) as conn:
        body = conn.read_refusal_body() if conn.status != 101 else b""
        assert conn.status == status, "expected %d, got %d %r" % (status, conn.status, body)
        assert b"RFB" not in body, body


def console_port_of(deployment, url):
    """The VNC port a console token leads to (admin API, microversion 2.31)."""
    token = wsclient.token_from_console_url(url)
    response = deployment.admin_api.request(
        "GET", "/v2.1/os-console-auth-tokens/%s" % token, version="2.31", expect=200)
    return int(response.json()["console"]["port"])


# --- the browser ---------------------------------------------------------------------------

def test_browser_shows_the_instances_own_screen_via_both_console_apis(
        cloud, servers, browser, artifacts_dir):
    names = [unique_name("alpha"), unique_name("bravo")]
    ids = {name: servers(name) for name in names}
    expected = {name: novnc_page.expected_rgba(name, *SCREEN_SIZE) for name in names}
    assert expected[names[0]] != expected[names[1]]
    url_getters = {"os-getVNCConsole": cloud.api.vnc_console_url_legacy,
                   "remote-consoles 2.6": cloud.api.vnc_console_url_remote_consoles}
    # alpha via the legacy action and bravo via remote-consoles, then the other way round.
    plan = [(names[0], "os-getVNCConsole"), (names[1], "remote-consoles 2.6"),
            (names[0], "remote-consoles 2.6"), (names[1], "os-getVNCConsole")]
    for name, how in plan:
        other = names[1] if name == names[0] else names[0]
        url = url_getters[how](ids[name])
        assert url.startswith(cloud.proxy_base_url + "?path=%3Ftoken%3D"), url
        browser.get(url)
        try:
            status = novnc_page.wait_until_connected(browser)
            assert status == novnc_page.CONNECTED_PREFIX + name, (how, status)
            last, frames = novnc_page.wait_for_screen(browser, expected[name], *SCREEN_SIZE)
        finally:
            shot = os.path.join(str(artifacts_dir), "%s-%s.png" % (name, how.split()[0]))
            browser.save_screenshot(shot)
            print("screenshot of %s's console (%s): %s" % (name, how, shot))
        assert last is not None, "noVNC drew no canvas"
        width, height, pixels = last
        assert (width, height) == SCREEN_SIZE
        # noVNC draws the Raw rectangles as they come: the canvas is pixel exact.
        different = novnc_page.differing_pixels(pixels, expected[name])
        assert different == 0, "%s via %s: %d of %d pixels differ from its screen" % (
            name, how, different, width * height)
        assert not any(frame[2] == expected[other] for frame in frames), (
            "%s's page showed %s's screen" % (name, other))
        browser.get("about:blank")  # closes the console's WebSocket


# --- tokens --------------------------------------------------------------------------------

def test_token_refused_after_instance_deleted(cloud, servers):
    name = unique_name("doomed")
    server_id = servers(name)
    url = cloud.api.vnc_console_url_legacy(server_id)
    assert_console_opens(cloud, url, expected_name=name)

    cloud.api.delete_server(server_id)  # 204 only once its tokens are revoked

    assert_console_refused(cloud, url)
    cloud.api.wait_for_deleted(server_id)
    assert_console_refused(cloud, url)
    response = cloud.api.request("POST", "/v2.1/servers/%s/action" % server_id,
                                 {"os-getVNCConsole": {"type": "novnc"}})
    assert response.status_code == 404, response.text


def test_token_refused_when_port_no_longer_the_instances(cloud, servers):
    name = unique_name("moved")
    server_id = servers(name)
    host = cloud.admin_api.get_server(server_id)["OS-EXT-SRV-ATTR:host"]
    url = cloud.api.vnc_console_url_remote_consoles(server_id)
    port = console_port_of(cloud, url)
    assert_console_opens(cloud, url, expected_name=name)

    # The compute host comes back under the same name without the instance (the fake
    # driver keeps nothing across a restart), and someone else now listens on the port
    # the token names: the token must not lead there.
    cloud.restart(host)
    impostor = deployment_mod.ImpostorConsoleServer(port)
    try:
        asked = time.monotonic()
        assert_console_refused(cloud, url)
        assert impostor.connections == 0, "the proxy connected to the port before refusing"
    finally:
        impostor.close()
    # Refused because the host answered "not this instance's port", not because an RPC
    # call timed out (that would take rpc_response_timeout).
    assert time.monotonic() - asked < deployment_mod.RPC_RESPONSE_TIMEOUT / 2


def test_token_refused_after_expiry(deployments):
    short = deployments(label="ttl1", conf={"consoleauth": {"token_ttl": 1}})
    name = unique_name("brief")
    server_id = short.api.create_server(name)
    short.api.wait_for_status(server_id, "ACTIVE")

    url = short.api.vnc_console_url_legacy(server_id)
    issued_by = time.monotonic()  # the token expires at most 1 s after this
    assert_console_opens(short, url, expected_name=name)
    assert time.monotonic() - issued_by < 1.0, "too slow to test a 1 s token"

    time.sleep(max(0.0, issued_by + 1.5 - time.monotonic()))  # the event is time passing
    assert_console_refused(short, url)
    # The instance is fine; only the token is too old: a new one works.
    assert_console_opens(short, short.api.vnc_console_url_legacy(server_id), name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_consoleauth_processes_share_tokens(deployments, request, backend):
    database_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    pair = deployments(label="two-consoleauth-%s" % backend, consoleauth_workers=2,
                       database_url=database_url)
    name = unique_name("shared")
    server_id = pair.api.create_server(name)
    pair.api.wait_for_status(server_id, "ACTIVE")

    # Only consoleauth-1 runs: it stores the token.
    pair.stop_process("consoleauth-2")
    url = pair.api.vnc_console_url_legacy(server_id)
    assert_console_opens(pair, url, expected_name=name)

    # Only consoleauth-2 runs (topic 'consoleauth' goes to whoever listens): it has
    # never seen the token but finds it in the shared database.
    pair.start_process("consoleauth-2")
    pair.stop_process("consoleauth-1")
    for _ in range(3):
        assert_console_opens(pair, url, expected_name=name)

    # And it revokes it for everyone.
    pair.api.delete_server(server_id)
    assert_console_refused(pair, url)


def test_a_reconnect_storm_gets_every_session_its_own_console(cloud, servers):
    """40 consoles opened at once through one proxy: their token checks share
    check_tokens messages over RabbitMQ, and every session still reaches its own
    instance (each checked by the name in its ServerInit)."""
    names = [unique_name("storm-%d" % n) for n in range(2)]
    ids = [servers(name) for name in names]
    urls = [(names[n % 2], cloud.api.vnc_console_url_legacy(ids[n % 2])) for n in range(40)]
    failures = []

    def open_one(name, url):
        try:
            assert_console_opens(cloud, url, expected_name=name)
        except BaseException as exc:  # reported below with the others
            failures.append(repr(exc))

    threads = [threading.Thread(target=open_one, args=pair) for pair in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures[:3]


def _children_of(pid):
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return sorted(children)


def test_proxy_workers_keep_serving_when_one_of_them_is_restarted(deployments):
    """[console] workers = 2: one worker ending (here by its own SIGTERM) is replaced
    by the supervisor, and neither the other worker nor the new one stops accepting:
    they share the listening socket, which the leaving worker must not shut down."""
    pair = deployments(label="two-proxy-workers", conf={"console": {"workers": 2}})
    name = unique_name("workers")
    server_id = pair.api.create_server(name)
    pair.api.wait_for_status(server_id, "ACTIVE")
    proxy = pair.processes["novncproxy"]
    workers = _children_of(proxy.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _children_of(proxy.pid)
        if len(now) == 2 and workers[0] not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2 and workers[0] not in now, now
    for _ in range(8):  # both workers accept: each of them gets some of these
        assert_console_opens(pair, pair.api.vnc_console_url_legacy(server_id), name)
    assert "Cannot accept a connection" not in proxy.log_text()


# --- clients ---------------------------------------------------------------------------------

@pytest.mark.parametrize("microversion", ["2.5", "2.96"])
def test_novaclient_gets_a_working_vnc_url_at_2_5_and_2_96(cloud, servers, microversion):
    from keystoneauth1 import noauth
    from keystoneauth1 import session as ks_session
    from novaclient import client as nova_client

    # novaclient without Keystone sends X-Auth-Token 'notused': noauth2's default
    # user and project, demo/demo, who own this server.
    name = unique_name("novaclient")
    server_id = servers(name, api=cloud.api.as_user("demo:demo"))
    auth = noauth.NoAuth(endpoint="http://127.0.0.1:%d/v2.1" % cloud.api_port)
    nova = nova_client.Client(microversion, session=ks_session.Session(auth=auth))

    assert nova.servers.get(server_id).name == name
    body = nova.servers.get_vnc_console(server_id, "novnc")
    console = body["console"] if microversion == "2.5" else body["remote_console"]
    assert console["type"] == "novnc"
    assert console["url"].startswith(cloud.proxy_base_url), console
    assert_console_opens(cloud, console["url"], expected_name=name)


# --- tempest's own client code -------------------------------------------------------------

def _tempest_validator(websocket=None):
    """tempest's NoVNCValidateMixin, unmodified, as a TestCase of its own."""
    from tempest.common import compute as tempest_compute

    class Validator(tempest_compute.NoVNCValidateMixin):
        def runTest(self):
            pass

    validator = Validator()
    validator.websocket = websocket
    return validator


@pytest.mark.parametrize("api", ["os-getVNCConsole", "remote-consoles"])
def test_tempest_validates_the_novnc_page_upgrade_and_rfb_negotiation(cloud, servers, api):
    """What OpenStack's gate runs against Nova (tempest's test_novnc), with tempest's
    own code: the page, the WebSocket upgrade (its whole query sent as a Cookie, no
    Origin), and the RFB handshake read one frame per message."""
    from tempest.common import compute as tempest_compute

    server_id = servers(unique_name("tempest"))
    if api == "os-getVNCConsole":  # no microversion header, as tempest's v2.1 client
        url = cloud.api.vnc_console_url_legacy(server_id)
    else:
        url = cloud.api.vnc_console_url_remote_consoles(server_id)
    _tempest_validator().validate_novnc_html(url)
    websocket = tempest_compute.create_websocket(url)
    try:
        validator = _tempest_validator(websocket)
        validator.validate_websocket_upgrade()
        validator.validate_rfb_negotiation()
    finally:
        websocket.close()


def test_tempest_novnc_bad_token_receives_no_data(cloud, servers):
    """tempest's test_novnc_bad_token, step by step: the console URL rewritten to
    'token=bad<token>'; the proxy must refuse and close, and receive_frame() (which
    takes any byte after the head for a frame) must return nothing."""
    from tempest.common import compute as tempest_compute

    server_id = servers(unique_name("badtoken"))
    url = cloud.api.vnc_console_url_legacy(server_id)
    parts = urllib.parse.urlparse(url)
    params = urllib.parse.parse_qs(parts.query)
    if "path" in params:
        params["path"] = urllib.parse.unquote(params["path"][0]).replace("token=", "token=bad")
    else:
        params["token"] = "bad" + params["token"][0]
    bad_url = urllib.parse.urlunparse(parts._replace(query=urllib.parse.urlencode(params)))
    websocket = tempest_compute.create_websocket(bad_url)
    try:
        data = websocket.receive_frame()
        assert data is None or not data, "the proxy sent %r after refusing" % (data,)
        assert not websocket.response.startswith(b"HTTP/1.1 101")
    finally:
        websocket.close()


# --- the proxy's own checks ------------------------------------------------------------------

def test_bad_origin_and_non_websocket_requests_are_refused_by_the_proxy(cloud, servers):
    name = unique_name("guarded")
    server_id = servers(name)
    url = cloud.api.vnc_console_url_legacy(server_id)
    token = wsclient.token_from_console_url(url)

    for origin in ("http://evil.example", "http://evil.example:%d" % cloud.proxy_port,
                   "https://127.0.0.1.evil.example", "null"):
        assert_console_refused(cloud, url, origin=origin)

    # A plain GET with the token is not a console: no 101, no RFB byte.
    for path in ("/?token=%s" % token, "/websockify?token=%s" % token):
        status, _headers, body = cloud.proxy_http_get(path, {"Origin": cloud.proxy_origin})
        assert status != 101 and status >= 400, (path, status, body[:200])
        assert b"RFB" not in body
    # An upgrade without a token, or with one that was never issued, is refused too.
    assert_console_refused(cloud, "http://x/vnc_lite.html?path=%3F")
    assert_console_refused(cloud, "http://x/vnc_lite.html?path=%3Ftoken%3D" + "x" * 32)

    # None of this spoiled the token: from the proxy's own origin it opens the console,
    # and the proxy still serves noVNC's page.
    assert_console_opens(cloud, url, expected_name=name)
    status, _headers, body = cloud.proxy_http_get("/vnc_lite.html")
    assert status == 200 and b"noVNC" in body


# --- operations ---------------------------------------------------------------------------

def test_db_sync_accepts_the_documented_postgresql_url(tmp_path):
    """[database] connection's help shows postgresql://user:pw@db/nova_console, and the
    package's 'postgresql' extra installs psycopg 3: that pair must work."""
    problem = deployment_mod.postgres_unavailable_reason()
    if problem:
        pytest.skip(problem)
    url = deployment_mod.create_postgres_database(scheme="postgresql")
    try:
        plain = deployment_mod.Deployment(tmp_path, "rabbit://unused", database_url=url,
                                          label="db-sync-only")
        plain.write_config()
        plain.db_sync()
    finally:
        deployment_mod.drop_postgres_database(url)
