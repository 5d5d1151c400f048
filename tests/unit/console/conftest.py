"""Fixtures of the proxy tests: a real proxy server on 127.0.0.1 with a fake
consoleauth and a TCP console server, and the configuration they read."""
import http.client
import subprocess
import threading
import time

import pytest

from nova_console import conf as nc_conf
from nova_console.console import novnc
from nova_console.console import proxies

from . import fakes

CONF = nc_conf.CONF

INDEX_HTML = b"<html>noVNC</html>\n"


@pytest.fixture
def conf(conf):
    """override(name, value, group=None); every override is cleared afterwards."""
    overridden = []

    def override(name, value, group=None):
        CONF.set_override(name, value, group=group)
        overridden.append((name, group))

    yield override
    for name, group in reversed(overridden):
        CONF.clear_override(name, group=group)


class Harness:
    def __init__(self, server, checker, backend):
        self.server = server
        self.checker = checker
        self.backend = backend
        self.port = server.address[1]
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def client(self, **kwargs):
        return fakes.WSClient(self.port, **kwargs)

    def open_session(self, token, **kwargs):
        client = self.client()
        answer = client.handshake("/?token=%s" % token, **kwargs)
        assert answer.status == 101, answer
        return client

    def http(self, method, path, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self):
        self.server.stop()
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def web_root(tmp_path):
    root = tmp_path / "web"
    root.mkdir()
    (root / "vnc_lite.html").write_bytes(INDEX_HTML)
    (root / "app").mkdir()
    (root / "app" / "ui.js").write_text("// ui\n")
    return root


@pytest.fixture
def make_harness(conf, tmp_path, web_root):
    conf("cert", str(tmp_path / "no-such-cert.pem"))
    conf("backend_connect_timeout", 2, group="console")
    harnesses = []

    def make(handler=fakes.echo, web=str(web_root), host="127.0.0.1", proxy=novnc,
             **settings):
        """A proxy (`proxy`: its module, one of proxies.ALL; its settings changed by
        `settings`) and a console server running `handler`."""
        checker = fakes.FakeTokenChecker()
        backend = fakes.Backend(handler)
        if proxy is novnc:
            settings["web_root"] = web
        server = proxies.make_server(proxy, host, 0, token_checker=checker, **settings)
        harness = Harness(server, checker, backend)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        harness.stop()
        harness.backend.stop()


@pytest.fixture
def proxy(make_harness):
    return make_harness()


def make_certificate(directory, common_name="127.0.0.1"):
    """A self-signed certificate and its key in `directory`: (cert path, key path)."""
    cert, key = directory / ("%s.pem" % common_name), directory / ("%s.key" % common_name)
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=%s" % common_name, "-days", "1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is needed to make a test certificate")
    return str(cert), str(key)


@pytest.fixture
def certificate(tmp_path):
    return make_certificate(tmp_path)


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
