"""The fake driver's instances are real RFB servers showing their own name."""
import socket
import struct
import time

import pytest

from nova_console import conf as nc_conf
from nova_console import exception
from nova_console.compute.drivers import fake
from nova_console.compute.drivers import fake_display
from nova_console.compute import power_state

HOST = "127.0.0.1"
WIDTH, HEIGHT = 160, 100
BACKGROUND_BGRX = bytes((0x2a, 0x20, 0x1c, 0xff))

NOVNC_FORMAT = dict(bpp=32, depth=24, big_endian=0, true_colour=1, maxes=(255, 255, 255),
                    shifts=(0, 8, 16))


class RFBClient:
    """Just enough of an RFB client to drive the server byte by byte."""

    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.bytes_per_pixel = 4

    def close(self):
        self.sock.close()

    def recv_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError("server closed after %d of %d bytes" % (len(data), count))
            data += chunk
        return data

    def read_closed(self):
        """True once the server has closed the connection (all pending data is read)."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def handshake(self, version=b"RFB 003.008\n"):
        """Run the handshake up to ServerInit; returns (width, height, pixel format, name)."""
        assert self.recv_exact(12) == b"RFB 003.008\n"
        self.sock.sendall(version)
        if version == b"RFB 003.003\n":
            assert struct.unpack(">I", self.recv_exact(4)) == (1,)
        else:
            (count,) = self.recv_exact(1)
            assert list(self.recv_exact(count)) == [1]
            self.sock.sendall(b"\x01")
            if version == b"RFB 003.008\n":
                assert struct.unpack(">I", self.recv_exact(4)) == (0,)
        self.sock.sendall(b"\x01")  # ClientInit, shared
        width, height = struct.unpack(">HH", self.recv_exact(4))
        pixel_format = struct.unpack(">BBBBHHHBBB3x", self.recv_exact(16))
        (name_length,) = struct.unpack(">I", self.recv_exact(4))
        return width, height, pixel_format, self.recv_exact(name_length).decode("utf-8")

    def set_pixel_format(self, bpp, depth, big_endian, true_colour, maxes, shifts):
        self.sock.sendall(struct.pack(">B3xBBBBHHHBBB3x", 0, bpp, depth, big_endian,
                                      true_colour, *maxes, *shifts))
        self.bytes_per_pixel = bpp // 8

    def request(self, x=0, y=0, w=WIDTH, h=HEIGHT, incremental=False):
        self.sock.sendall(struct.pack(">BBHHHH", 3, int(incremental), x, y, w, h))

    def read_update(self):
        """One FramebufferUpdate as a list of (x, y, w, h, raw pixel bytes)."""
        message_type, count = struct.unpack(">BxH", self.recv_exact(4))
        assert message_type == 0
        rects = []
        for _ in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", self.recv_exact(12))
            assert encoding == 0
            rects.append((x, y, w, h, self.recv_exact(w * h * self.bytes_per_pixel)))
        return rects

    def full_screen(self):
        self.request()
        [(x, y, w, h, data)] = self.read_update()
        assert (x, y, w, h) == (0, 0, WIDTH, HEIGHT)
        return data


@pytest.fixture
def make_display():
    displays = []

    def make(name="instance-1", width=WIDTH, height=HEIGHT):
        display = fake_display.RFBDisplay(name, HOST, width=width, height=height)
        display.start()
        displays.append(display)
        return display

    yield make
    for display in displays:
        display.stop()


@pytest.fixture
def display(make_display):
    return make_display()


@pytest.fixture
def client(display):
    clients = []

    def connect():
        new = RFBClient(display.port)
        clients.append(new)
        return new

    yield connect
    for one in clients:
        one.close()


def _rgb_pixels(bgrx):
    """Default-format bytes as a list of (r, g, b) tuples."""
    return list(zip(bgrx[2::4], bgrx[1::4], bgrx[0::4]))


def _foreground_count(bgrx):
    return sum(1 for i in range(0, len(bgrx), 4) if bgrx[i:i + 4] != BACKGROUND_BGRX)


def _scaled(component, maximum):
    return (component * maximum + 127) // 255


# -- Handshake --------------------------------------------------------------

def test_rfb_38_handshake_announces_size_default_format_and_name(client):
    width, height, pixel_format, name = client().handshake()

    assert (width, height) == (WIDTH, HEIGHT)
    assert pixel_format == (32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
    assert name == "instance-1"


@pytest.mark.parametrize("version", [b"RFB 003.003\n", b"RFB 003.007\n"])
def test_older_rfb_versions_are_served(client, version):
    rfb = client()
    assert rfb.handshake(version)[3] == "instance-1"
    assert rfb.full_screen() == fake_display.render_framebuffer("instance-1", WIDTH, HEIGHT)


def test_desktop_name_is_sent_as_utf8(make_display):
    display = make_display(name="vm-\u00e9t\u00e9")
    rfb = RFBClient(display.port)
    try:
        assert rfb.handshake()[3] == "vm-\u00e9t\u00e9"
        assert display.desktop_name == "vm-\u00e9t\u00e9"
    finally:
        rfb.close()


def test_unsupported_security_type_is_refused_with_a_reason(client):
    rfb = client()
    rfb.recv_exact(12)
    rfb.sock.sendall(b"RFB 003.008\n")
    (count,) = rfb.recv_exact(1)
    rfb.recv_exact(count)
    rfb.sock.sendall(b"\x02")  # VNC authentication

    status, reason_length = struct.unpack(">II", rfb.recv_exact(8))
    assert status == 1
    assert b"None" in rfb.recv_exact(reason_length)
    assert rfb.read_closed()


def test_client_leaving_mid_handshake_does_not_break_the_server(client, display):
    quitter = client()
    quitter.recv_exact(12)
    quitter.close()
    half_way = client()
    half_way.recv_exact(12)
    half_way.sock.sendall(b"RFB 003.008\n")
    half_way.close()

    assert client().handshake()[3] == "instance-1"


# -- Framebuffer updates ----------------------------------------------------

def test_full_update_is_exactly_render_framebuffer(client):
    rfb = client()
    rfb.handshake()

    assert rfb.full_screen() == fake_display.render_framebuffer("instance-1", WIDTH, HEIGHT)


def test_partial_request_is_clipped_to_the_screen(client):
    rfb = client()
    rfb.handshake()
    expected = fake_display.render_framebuffer("instance-1", WIDTH, HEIGHT)

    rfb.request(x=WIDTH - 10, y=HEIGHT - 5, w=50, h=50)
    [(x, y, w, h, data)] = rfb.read_update()

    assert (x, y, w, h) == (WIDTH - 10, HEIGHT - 5, 10, 5)
    rows = [expected[((y + row) * WIDTH + x) * 4:((y + row) * WIDTH + x + w) * 4]
            for row in range(h)]
    assert data == b"".join(rows)


def test_novnc_pixel_format_gets_rgb_with_opaque_padding(client):
    rfb = client()
    rfb.handshake()
    rfb.sock.sendall(struct.pack(">BxHi", 2, 1, 0))  # SetEncodings: Raw
    rfb.set_pixel_format(**NOVNC_FORMAT)

    data = rfb.full_screen()

    expected = bytearray(len(data))
    default = fake_display.render_framebuffer("instance-1", WIDTH, HEIGHT)
    expected[0::4], expected[1::4], expected[2::4] = default[2::4], default[1::4], default[0::4]
    expected[3::4] = b"\xff" * (WIDTH * HEIGHT)
    assert data == bytes(expected)


def test_16bpp_big_endian_format_is_converted(client):
    rfb = client()
    rfb.handshake()
    rfb.set_pixel_format(bpp=16, depth=16, big_endian=1, true_colour=1, maxes=(31, 63, 31),
                         shifts=(11, 5, 0))

    data = rfb.full_screen()

    expected = b"".join(
        struct.pack(">H", _scaled(r, 31) << 11 | _scaled(g, 63) << 5 | _scaled(b, 31))
        for r, g, b in _rgb_pixels(fake_display.render_framebuffer("instance-1", WIDTH,
                                                                   HEIGHT)))
    assert data == expected


def test_8bpp_format_is_converted(client):
    rfb = client()
    rfb.handshake()
    rfb.set_pixel_format(bpp=8, depth=8, big_endian=0, true_colour=1, maxes=(7, 7, 3),
                         shifts=(0, 3, 6))

    data = rfb.full_screen()

    expected = bytes(
        _scaled(r, 7) | _scaled(g, 7) << 3 | _scaled(b, 3) << 6
        for r, g, b in _rgb_pixels(fake_display.render_framebuffer("instance-1", WIDTH,
                                                                   HEIGHT)))
    assert data == expected


def test_colour_map_pixel_format_closes_the_connection(client):
    rfb = client()
    rfb.handshake()
    rfb.set_pixel_format(bpp=8, depth=8, big_endian=0, true_colour=0, maxes=(0, 0, 0),
                         shifts=(0, 0, 0))

    assert rfb.read_closed()


def test_incremental_request_is_held_but_a_full_one_is_answered(client):
    rfb = client()
    rfb.handshake()
    rfb.full_screen()

    rfb.request(incremental=True)
    rfb.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        rfb.sock.recv(1)
    rfb.sock.settimeout(2.0)

    assert rfb.full_screen() == fake_display.render_framebuffer("instance-1", WIDTH, HEIGHT)


def test_key_pointer_and_cut_text_are_ignored(client):
    rfb = client()
    rfb.handshake()
    text = b"hello clipboard"
    rfb.sock.sendall(struct.pack(">BBxxI", 4, 1, 0x61)
                     + struct.pack(">BBHH", 5, 1, 10, 20)
                     + struct.pack(">B3xI", 6, len(text)) + text)

    assert rfb.full_screen() == fake_display.render_framebuffer("instance-1", WIDTH, HEIGHT)


def test_oversized_cut_text_closes_the_connection(client):
    rfb = client()
    rfb.handshake()
    rfb.sock.sendall(struct.pack(">B3xI", 6, fake_display.MAX_CUT_TEXT + 1))

    assert rfb.read_closed()


def test_unknown_message_type_closes_only_that_connection(client):
    bad = client()
    bad.handshake()
    bad.sock.sendall(b"\xfe")
    assert bad.read_closed()

    good = client()
    good.handshake()
    assert good.full_screen()


# -- Lifecycle --------------------------------------------------------------

def test_stop_closes_clients_and_the_port(display, client):
    rfb = client()
    rfb.handshake()
    port = display.port

    started = time.monotonic()
    display.stop()
    assert rfb.read_closed()
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=1.0)
    display.stop()  # idempotent


def test_two_displays_get_their_own_port_and_screen(make_display):
    first, second = make_display("alpha"), make_display("bravo")
    assert first.port != second.port
    screens = []
    for display in (first, second):
        rfb = RFBClient(display.port)
        try:
            assert rfb.handshake()[3] == display.desktop_name
            screens.append(rfb.full_screen())
        finally:
            rfb.close()

    assert screens == [fake_display.render_framebuffer("alpha", WIDTH, HEIGHT),
                       fake_display.render_framebuffer("bravo", WIDTH, HEIGHT)]
    assert screens[0] != screens[1]


# -- The picture ------------------------------------------------------------

def test_name_is_drawn_large_and_centred():
    width, height = 640, 400
    screen = fake_display.render_framebuffer("instance-0001", width, height)
    assert len(screen) == width * height * 4
    assert set(screen[3::4]) == {0xff}

    foreground = fake_display.PALETTE[fake_display.FOREGROUND]
    columns, rows = set(), set()
    for index, rgb in enumerate(_rgb_pixels(screen)):
        if rgb == foreground:
            columns.add(index % width)
            rows.add(index // width)
    assert len(columns) * len(rows) > 0  # something is drawn in the name's colour
    assert max(columns) - min(columns) > width // 2  # large: over half the width
    assert max(rows) - min(rows) >= 30  # at least 4x the 8-pixel font
    assert abs((min(columns) + max(columns)) - width) <= 12  # centred
    assert abs((min(rows) + max(rows)) - height) <= 60


def test_name_pixels_are_substantial_and_names_differ():
    screen = fake_display.render_framebuffer("vm-a", WIDTH, HEIGHT)
    assert _foreground_count(screen) > WIDTH * HEIGHT // 20
    assert screen != fake_display.render_framebuffer("vm-b", WIDTH, HEIGHT)
    assert screen == fake_display.render_framebuffer("vm-a", WIDTH, HEIGHT)


def test_non_ascii_characters_are_drawn_as_question_marks():
    assert (fake_display.render_framebuffer("vm-\u00e9", WIDTH, HEIGHT)
            == fake_display.render_framebuffer("vm-?", WIDTH, HEIGHT))


def test_too_long_name_is_cut_with_an_ellipsis():
    long_name = "x" * 300
    shortened = fake_display.render_framebuffer(long_name, WIDTH, HEIGHT)
    assert shortened == fake_display.render_framebuffer(long_name + "yyy", WIDTH, HEIGHT)
    assert shortened != fake_display.render_framebuffer("x" * 3, WIDTH, HEIGHT)
    foreground = fake_display.PALETTE[fake_display.FOREGROUND]
    rows = {i // WIDTH for i, rgb in enumerate(_rgb_pixels(shortened)) if rgb == foreground}
    assert len(rows) >= 5 * fake_display.MIN_SCALE  # 'x' is 5 rows high, never drawn tiny


def test_tiny_screens_render_without_error():
    for width, height in ((1, 1), (7, 3), (20, 12)):
        assert len(fake_display.render_framebuffer("instance", width, height)) \
            == width * height * 4


# -- FakeDriver -------------------------------------------------------------

@pytest.fixture
def driver():
    conf = nc_conf.CONF
    conf.set_override("server_listen", HOST, group="vnc")
    conf.set_override("server_proxyclient_address", "192.0.2.10", group="vnc")
    drv = fake.FakeDriver()
    yield drv
    drv.cleanup_host("host1")
    conf.clear_override("server_listen", group="vnc")
    conf.clear_override("server_proxyclient_address", group="vnc")


INSTANCE = {"uuid": "9a3c1f0e-4a5b-4c6d-8e7f-000000000001", "name": "web-1"}
OTHER = {"uuid": "9a3c1f0e-4a5b-4c6d-8e7f-000000000002", "name": "db-1"}


def test_spawned_instance_is_listed_running_and_shows_its_name(driver):
    driver.spawn(INSTANCE)

    assert driver.list_instances() == [INSTANCE["uuid"]]
    assert driver.get_power_state(INSTANCE) == power_state.RUNNING
    endpoint = driver.get_vnc_console(INSTANCE)
    assert endpoint.host == "192.0.2.10"  # server_proxyclient_address, not server_listen
    rfb = RFBClient(endpoint.port)
    try:
        assert rfb.handshake()[3] == "web-1"
    finally:
        rfb.close()


def test_each_instance_gets_its_own_vnc_port(driver):
    driver.spawn(INSTANCE)
    driver.spawn(OTHER)

    assert sorted(driver.list_instances()) == sorted([INSTANCE["uuid"], OTHER["uuid"]])
    assert driver.get_vnc_console(INSTANCE).port != driver.get_vnc_console(OTHER).port


def test_spawning_a_running_instance_is_invalid(driver):
    driver.spawn(INSTANCE)
    with pytest.raises(exception.Invalid):
        driver.spawn(dict(INSTANCE))
    assert driver.list_instances() == [INSTANCE["uuid"]]


def test_destroy_stops_the_console_and_forgets_the_instance(driver):
    driver.spawn(INSTANCE)
    port = driver.get_vnc_console(INSTANCE).port

    driver.destroy(INSTANCE)

    assert driver.list_instances() == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=1.0)
    with pytest.raises(exception.InstanceNotFound):
        driver.get_power_state(INSTANCE)


def test_destroying_an_unknown_instance_is_a_no_op(driver):
    driver.destroy(OTHER)
    assert driver.list_instances() == []


def test_unknown_instance_has_no_power_state_or_console(driver):
    with pytest.raises(exception.InstanceNotFound) as power_error:
        driver.get_power_state(OTHER)
    with pytest.raises(exception.InstanceNotFound):
        driver.get_vnc_console(OTHER)
    assert power_error.value.kwargs == {"instance_id": OTHER["uuid"]}


def test_cleanup_host_stops_every_instance(driver):
    driver.spawn(INSTANCE)
    driver.spawn(OTHER)
    ports = [driver.get_vnc_console(i).port for i in (INSTANCE, OTHER)]

    driver.cleanup_host("host1")

    assert driver.list_instances() == []
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, port), timeout=1.0)


def test_the_fake_driver_proves_the_mks_path_with_its_display(conf):
    from nova_console.compute import manager as compute_manager
    from tests.unit.fakes import RecordingAPI, raises_expected

    conf.set_override("enabled", True, group="mks")
    conf.set_override("mksproxy_base_url", "https://mks.example:6090/", group="mks")
    driver = fake.FakeDriver()
    manager = compute_manager.ComputeManager("h1", driver, api=RecordingAPI())
    instance = {"uuid": "0d4b4c47-1b5a-4a4e-9e53-6f1a2bd0a6f3", "name": "vm", "host": "h1"}
    manager.build_and_run_instance(None, instance)
    try:
        info = manager.get_mks_console(None, instance, "webmks")
        assert info["port"] == driver.get_vnc_console(instance).port
        assert info["access_url"] == "https://mks.example:6090/?token=" + info["token"]
        with raises_expected(exception.ConsoleTypeUnavailable):
            manager.get_spice_console(None, instance, "spice-html5")
    finally:
        driver.cleanup_host("h1")
