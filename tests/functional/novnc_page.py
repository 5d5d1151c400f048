"""What a person sees in noVNC's vnc_lite.html, read through selenium.

vnc_lite.html (noVNC 1.3) writes "Connected to <desktop name>" into #status once
the RFB handshake is done, and draws the framebuffer into the canvas under #screen.
"""
import base64
import time

from nova_console.compute.drivers import fake_display

CONNECTED_PREFIX = "Connected to "
# Texts vnc_lite.html shows when the connection ended or never worked.
FAILED_STATUSES = ("Disconnected", "Something went wrong, connection is closed")

_READ_CANVAS_JS = """
const canvas = document.querySelector('#screen canvas');
if (!canvas || !canvas.width || !canvas.height) { return null; }
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let binary = '';
for (let i = 0; i < data.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, data.subarray(i, i + 0x8000));
}
return [canvas.width, canvas.height, btoa(binary)];
"""


def status_text(driver):
    return driver.execute_script(
        "const s = document.getElementById('status'); return s ? s.textContent : null;")


def wait_until_connected(driver, timeout=30):
    """The #status text once it says 'Connected to ...'; AssertionError if it fails or
    does not happen within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = status_text(driver)
        if status and status.startswith(CONNECTED_PREFIX):
            return status
        if status in FAILED_STATUSES:
            raise AssertionError("noVNC could not connect: status %r" % status)
        time.sleep(0.1)
    raise AssertionError("noVNC did not connect within %d s: status %r" % (timeout, status))


def read_canvas(driver):
    """(width, height, RGBA bytes) of noVNC's canvas, or None while there is none."""
    result = driver.execute_script(_READ_CANVAS_JS)
    if result is None:
        return None
    width, height, data = result
    return width, height, base64.b64decode(data)


def expected_rgba(name, width, height):
    """The fake instance's screen as canvas bytes: fake_display gives B, G, R, 0xFF per
    pixel; a canvas holds R, G, B, A."""
    bgrx = fake_display.render_framebuffer(name, width, height)
    rgba = bytearray(len(bgrx))
    rgba[0::4] = bgrx[2::4]
    rgba[1::4] = bgrx[1::4]
    rgba[2::4] = bgrx[0::4]
    rgba[3::4] = bgrx[3::4]
    return bytes(rgba)


def differing_pixels(actual, expected):
    """How many RGBA pixels differ between two buffers of the same size."""
    if len(actual) != len(expected):
        raise AssertionError("buffers of %d and %d bytes" % (len(actual), len(expected)))
    view_a = memoryview(actual).cast("I")
    view_e = memoryview(expected).cast("I")
    return sum(1 for a, e in zip(view_a, view_e) if a != e)


def wait_for_screen(driver, expected, width, height, timeout=20):
    """Poll the canvas until it equals `expected`; the last (w, h, bytes) read either way,
    and every distinct frame seen (to check that no other screen was ever shown)."""
    deadline = time.monotonic() + timeout
    frames = []
    last = None
    while time.monotonic() < deadline:
        last = read_canvas(driver)
        if last is not None:
            if not frames or frames[-1] != last:
                frames.append(last)
            if last[:2] == (width, height) and last[2] == expected:
                break
        time.sleep(0.2)
    return last, frames
