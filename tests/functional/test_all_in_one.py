"""nova-console-all-in-one: one process, in-memory bus, a demo console ready to open."""
import re
import signal
import time

from tests.functional import deployment
from tests.functional.wsclient import ConsoleConnection

URL_LINE = re.compile(r"^\s+(http://\S+vnc_lite\.html\?path=\S+)$", re.MULTILINE)
XVP_URL_LINE = re.compile(r"^\s+(http://\S+/console\?token=\S+)$", re.MULTILINE)
SPICE_URL_LINE = re.compile(r"^\s+(http://\S+/spice_auto\.html\?token=\S+)$", re.MULTILINE)
SERIAL_URL_LINE = re.compile(r"^\s+(ws://\S+/\?token=\S+)$", re.MULTILINE)


def _write_config(tmp_path):
    api_port, proxy_port, xvp_port, spice_port, serial_port = (
        deployment.free_port() for _ in range(5))
    config = tmp_path / "all-in-one.conf"
    config.write_text(
        "[DEFAULT]\nstate_path = %s\nosapi_compute_listen_port = %d\n"
        "[vnc]\nnovncproxy_port = %d\n"
        "novncproxy_base_url = http://127.0.0.1:%d/vnc_lite.html\n"
        "xvpvncproxy_port = %d\nxvpvncproxy_base_url = http://127.0.0.1:%d/console\n"
        "[spice]\nhtml5proxy_port = %d\n"
        "html5proxy_base_url = http://127.0.0.1:%d/spice_auto.html\n"
        "[serial_console]\nserialproxy_port = %d\nbase_url = ws://127.0.0.1:%d/\n"
        % (tmp_path / "state", api_port, proxy_port, proxy_port, xvp_port, xvp_port,
           spice_port, spice_port, serial_port, serial_port))
    return config, api_port, proxy_port, xvp_port, spice_port, serial_port


def _wait_until_the_guest_listens(api_port, log):
    """Until the demo guest wrote its ready line (it reads its serial port after)."""
    api = deployment.APIClient("http://127.0.0.1:%d" % api_port)
    server_id = re.search(r'Demo server "demo" \(([0-9a-f-]{36})\)', log).group(1)
    deployment.wait_for(
        lambda: "ready" in api.request("POST", "/v2.1/servers/%s/action" % server_id,
                                       {"os-getConsoleOutput": {}}).json()["output"],
        60, message="the demo guest's ready line")


def test_all_in_one_prints_a_working_console_url_and_stops_on_ctrl_c(tmp_path):
    config, api_port, proxy_port, xvp_port, spice_port, serial_port = _write_config(tmp_path)
    process = deployment.ServiceProcess(
        "all-in-one", [deployment.console_script("nova-console-all-in-one"),
                       "--config-file", str(config)],
        str(tmp_path / "all-in-one.log"), cwd=str(tmp_path))
    process.start()
    try:
        process.wait_for_log(r"The links work for", timeout=60)
        log = process.log_text()
        assert "Message bus: in-memory" in log
        url = URL_LINE.search(log).group(1)
        assert url.startswith("http://127.0.0.1:%d/vnc_lite.html?path=%%3Ftoken%%3D" % proxy_port)

        # The default driver is qemu where QEMU is installed (its desktop name is
        # "QEMU (<name>)"), else fake; the banner says which.
        expected_name = "QEMU (demo)" if "Compute driver: qemu" in log else "demo"
        with ConsoleConnection.open_console_url(url, proxy_port) as console:
            assert console.status == 101
            assert console.rfb_handshake().name == expected_name
        # The XVP proxy runs in the same process, and its URL is printed too.
        xvp_url = XVP_URL_LINE.search(log).group(1)
        assert xvp_url.startswith("http://127.0.0.1:%d/console?token=" % xvp_port)
        with ConsoleConnection.open_xvp(xvp_url) as console:
            assert console.status == 200
            assert console.rfb_handshake().name == expected_name
        # So do the serial and SPICE proxies, whose URLs are printed when the driver
        # has those consoles (qemu has both, fake neither).
        serial_url = SERIAL_URL_LINE.search(log)
        spice_url = SPICE_URL_LINE.search(log)
        if "Compute driver: qemu" in log:
            _wait_until_the_guest_listens(api_port, log)
            serial_base = "ws://127.0.0.1:%d" % serial_port
            assert serial_url.group(1).startswith(serial_base + "/?token=")
            with ConsoleConnection.open(serial_url.group(1)[len(serial_base):], serial_port,
                                        origin=None) as console:
                console.send(b"ok\r\n")
                assert console.recv_exact(4) == b"ok\r\n"
            token = spice_url.group(1).split("token=", 1)[1]
            with ConsoleConnection.open("/websockify", spice_port,
                                        extra_headers=["Cookie: token=%s" % token]) as console:
                assert console.spice_link() == 0
        else:
            assert serial_url is None and spice_url is None

        api = deployment.APIClient("http://127.0.0.1:%d" % api_port)
        servers = api.request("GET", "/v2.1/servers", expect=200).json()["servers"]
        assert [server["name"] for server in servers] == ["demo"]
        assert (tmp_path / "state" / "nova_console.sqlite").exists()
    finally:
        process.popen.send_signal(signal.SIGINT)  # what Ctrl-C sends
        status = process.finish_stop(deadline=time.monotonic() + 15)
    assert status == 0, process.tail(40)
    assert "Traceback" not in process.log_text()
    assert not deployment.port_accepts("127.0.0.1", proxy_port)
    for port in (xvp_port, spice_port, serial_port):
        assert not deployment.port_accepts("127.0.0.1", port)
