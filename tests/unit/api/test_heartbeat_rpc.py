"""The heartbeat RPC (API RPC 1.2: topic and hypervisor_type) and consoleauth's beat."""
import pytest

from nova_console.api import rpcapi as api_rpcapi


class PreparedRecorder:
    def __init__(self, sent, version):
        self.sent = sent
        self.version = version

    def cast(self, ctxt, method, **kwargs):
        self.sent.append((self.version, method, kwargs))


@pytest.fixture
def sent(fake_transport, monkeypatch):
    return []


class ClientRecorder:
    """The RPC client with its version cap, recording casts instead of sending them."""

    def __init__(self, client, sent):
        self.can_send_version = client.can_send_version
        self.sent = sent

    def prepare(self, version=None, **kwargs):
        return PreparedRecorder(self.sent, version)


def _client(sent, monkeypatch):
    reports = api_rpcapi.APIReportsAPI()
    reports.client = ClientRecorder(reports.client, sent)
    return reports


def test_a_heartbeat_carries_topic_and_driver_at_1_2(sent, monkeypatch):
    _client(sent, monkeypatch).service_heartbeat(None, "h1", "nova-console-compute",
                                                 topic="compute", hypervisor_type="qemu")
    assert sent == [("1.2", "service_heartbeat", {
        "host": "h1", "binary": "nova-console-compute", "topic": "compute",
        "hypervisor_type": "qemu"})]


def test_capped_at_1_1_a_heartbeat_is_sent_as_1_0_did(sent, monkeypatch, conf):
    conf.set_override("api", "1.1", group="upgrade_levels")
    _client(sent, monkeypatch).service_heartbeat(None, "h1", "nova-console-compute",
                                                 topic="compute", hypervisor_type="qemu")
    assert sent == [("1.0", "service_heartbeat", {"host": "h1",
                                                  "binary": "nova-console-compute"})]


def test_the_consoleauth_heartbeat_names_its_host_binary_and_topic(sent, monkeypatch):
    heartbeat = api_rpcapi.Heartbeat("ca-1", "nova-consoleauth", "consoleauth",
                                     api=_client(sent, monkeypatch))
    heartbeat.report()
    assert sent[0][2] == {"host": "ca-1", "binary": "nova-consoleauth",
                          "topic": "consoleauth", "hypervisor_type": None}


def test_the_api_stores_a_consoleauth_beat_under_its_own_topic(database):
    from nova_console.api import manager as api_manager
    from nova_console.db import api as db
    api_manager.APIManager().service_heartbeat(None, "ca-1", "nova-consoleauth",
                                               topic="consoleauth")
    service, = db.service_get_all()
    assert (service["binary"], service["topic"], service["hypervisor_type"]) == (
        "nova-consoleauth", "consoleauth", None)
    assert service["uuid"]
