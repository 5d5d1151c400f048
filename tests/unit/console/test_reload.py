"""ConsoleProxyServer.reload(): what SIGHUP changes in a running proxy (its TLS
certificate, its limits), and what it must not (open sessions, a working
certificate replaced by a broken one)."""
import logging
import ssl

from . import fakes
from .conftest import make_certificate


def _served_certificate(port):
    """The DER bytes of the certificate the proxy on `port` presents now."""
    client = fakes.tls_client(port)
    try:
        return client.sock.getpeercert(binary_form=True)
    finally:
        client.sock.close()


def _der(cert_path):
    with open(cert_path) as pem:
        return ssl.PEM_cert_to_DER_cert(pem.read())


def _use_certificate(conf, certificate):
    conf("cert", certificate[0])
    conf("key", certificate[1])


def test_reload_serves_new_connections_with_the_new_certificate_and_keeps_sessions(
        make_harness, conf, tmp_path):
    old = make_certificate(tmp_path, "old.example")
    new = make_certificate(tmp_path, "new.example")
    _use_certificate(conf, old)
    harness = make_harness()
    token = harness.checker.add(harness.backend.port)
    session = fakes.tls_client(harness.port)
    assert session.handshake("/?token=%s" % token).status == 101
    assert _served_certificate(harness.port) == _der(old[0])

    _use_certificate(conf, new)
    harness.server.reload()

    assert _served_certificate(harness.port) == _der(new[0])
    session.send(b"still here")
    assert session.recv_bytes(10) == b"still here"


def test_reload_keeps_the_current_certificate_when_the_new_one_is_unusable(
        make_harness, conf, tmp_path, caplog):
    good = make_certificate(tmp_path, "good.example")
    _use_certificate(conf, good)
    harness = make_harness()
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    for bad_cert in (str(broken), str(tmp_path / "missing.pem")):
        conf("cert", bad_cert)
        conf("key", bad_cert)
        with caplog.at_level(logging.ERROR):
            harness.server.reload()
        assert "the new TLS settings are unusable" in caplog.text
        assert bad_cert in caplog.text or "cannot set up TLS" in caplog.text
        assert _served_certificate(harness.port) == _der(good[0])
        caplog.clear()


def test_reload_applies_new_limits_to_new_connections(make_harness, conf):
    harness = make_harness()
    assert harness.server.settings.request_timeout == 30
    conf("request_timeout", 7, group="console")
    conf("allowed_origins", ["console.example.com"], group="console")
    harness.server.reload()
    assert harness.server.settings.request_timeout == 7
    assert harness.server.settings.allowed_origins == ("console.example.com",)


def test_reload_keeps_what_the_proxy_itself_set(make_harness, conf):
    """A proxy's own settings (here a test's request_timeout) are not CONF's to change."""
    harness = make_harness(request_timeout=3)
    conf("request_timeout", 7, group="console")
    harness.server.reload()
    assert harness.server.settings.request_timeout == 3
