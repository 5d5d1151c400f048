"""console/websocket.py on its own: the upgrade checks, the accept key and the frame
codec, as tables of inputs and what they must give."""
import email.message
import os
import struct

import pytest

from nova_console.console import websocket

from . import fakes

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455, section 1.3


def headers(**values):
    message = email.message.Message()
    defaults = {"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": KEY}
    defaults.update({name.replace("_", "-"): value for name, value in values.items()})
    for name, value in defaults.items():
        if value is not None:
            message[name] = value
    return message


@pytest.mark.parametrize("given,subprotocols,chosen", [
    ({}, ("binary",), None),
    ({"Sec_WebSocket_Protocol": "binary"}, ("binary",), "binary"),
    ({"Sec_WebSocket_Protocol": "base64, binary"}, ("binary",), "binary"),
    ({"Sec_WebSocket_Protocol": "base64, binary"}, ("binary", "base64"), "binary"),
    ({"Sec_WebSocket_Protocol": "base64"}, ("binary", "base64"), "base64"),
    ({"Sec_WebSocket_Version": "8"}, ("binary",), None),
    ({"Sec_WebSocket_Version": "7"}, ("binary",), None),
])
def test_upgrade_requests_accepted_with_the_subprotocol_to_answer(given, subprotocols, chosen):
    assert websocket.check_upgrade_request(headers(**given), subprotocols) == chosen


@pytest.mark.parametrize("given,error", [
    ({"Sec_WebSocket_Version": None}, "unsupported WebSocket version"),
    ({"Sec_WebSocket_Version": "99"}, "unsupported WebSocket version"),
    ({"Sec_WebSocket_Key": None}, "missing Sec-WebSocket-Key"),
    ({"Sec_WebSocket_Key": "eA=="}, "invalid Sec-WebSocket-Key"),
    ({"Sec_WebSocket_Key": "not base64!"}, "invalid Sec-WebSocket-Key"),
    ({"Sec_WebSocket_Protocol": "base64"}, "subprotocol not supported"),
    ({"Sec_WebSocket_Protocol": "chat, superchat"}, "subprotocol not supported"),
])
def test_upgrade_requests_refused_with_a_reason(given, error):
    with pytest.raises(websocket.HandshakeError, match=error):
        websocket.check_upgrade_request(headers(**given), ("binary",))


def test_accept_key_is_the_rfc_example():
    assert websocket.accept_key(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert websocket.accept_key(" %s " % KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("opcode,length,header", [
    (websocket.OP_BINARY, 0, b"\x82\x00"),
    (websocket.OP_BINARY, 125, b"\x82\x7d"),
    (websocket.OP_BINARY, 126, b"\x82\x7e\x00\x7e"),
    (websocket.OP_BINARY, 65535, b"\x82\x7e\xff\xff"),
    (websocket.OP_BINARY, 65536, b"\x82\x7f" + struct.pack("!Q", 65536)),
    (websocket.OP_PONG, 5, b"\x8a\x05"),
    (websocket.OP_CLOSE, 2, b"\x88\x02"),
])
def test_server_frame_headers(opcode, length, header):
    assert websocket.frame_header(opcode, length) == header
    assert len(header) <= websocket.MAX_SERVER_HEADER


def test_close_frame_fits_a_control_frame():
    assert websocket.close_frame(1000) == b"\x88\x02\x03\xe8"
    frame = websocket.close_frame(1008, "x" * 500)
    assert frame[1] == 125 and frame[2:4] == b"\x03\xf0"


@pytest.mark.parametrize("payload,echo", [
    (b"", 1000),
    (struct.pack("!H", 1000), 1000),
    (struct.pack("!H", 1001) + b"going away", 1001),
    (struct.pack("!H", 4999), 4999),
    (struct.pack("!H", 999), 1002),
    (struct.pack("!H", 1005), 1002),
    (struct.pack("!H", 1006), 1002),
    (struct.pack("!H", 5000), 1002),
])
def test_close_code_echoed(payload, echo):
    assert websocket.close_code_to_echo(payload) == echo


@pytest.mark.parametrize("size", [0, 1, 3, 255, 256, 257, 4099])
@pytest.mark.parametrize("phase", [0, 1, 2, 3])
def test_unmask_into_any_offset_and_phase(size, phase):
    key = b"\x01\x82\x7f\xfe"
    data = os.urandom(size)
    rotated = key[phase:] + key[:phase]
    expected = bytes(b ^ rotated[i % 4] for i, b in enumerate(data))
    src = bytearray(b"??" + data)
    dst = bytearray(size + 5)
    websocket.unmask_into(src, 2, 2 + size, key, phase, dst, 5)
    assert bytes(dst[5:]) == expected


def _feed_all(reader, stream, step):
    data, controls = b"", []
    for offset in range(0, len(stream), step):
        buf = bytearray(websocket.MAX_CLIENT_HEADER + step)
        start = reader.take_leftover(buf)
        piece = stream[offset:offset + step]
        buf[start:start + len(piece)] = piece
        size, got = reader.feed(buf, start + len(piece))
        data += bytes(buf[:size])
        controls += got
    return data, controls


@pytest.mark.parametrize("step", [1, 3, 7, 1000, None])
def test_frame_reader_gives_the_same_data_for_any_split_of_the_stream(step):
    payloads = [os.urandom(n) for n in (0, 1, 5, 125, 126, 4000, 70000)]
    stream = b"".join(fakes.encode_frame(0x2, p) for p in payloads)
    stream += fakes.encode_frame(0x9, b"ping!")
    stream += fakes.encode_frame(0x2, b"frag-", fin=False) + fakes.encode_frame(0x0, b"ment")
    data, controls = _feed_all(websocket.FrameReader(), stream, step or len(stream))
    assert data == b"".join(payloads) + b"frag-ment"
    assert controls == [(0x9, b"ping!")]


def test_frame_reader_keeps_a_fragmented_message_whose_header_is_split_before_its_mask():
    """A first fragment's header cut between its length and its mask key is parsed
    again once complete: it must not count as a second message meanwhile."""
    first = fakes.encode_frame(0x2, b"frag-", fin=False)
    stream = first + fakes.encode_frame(0x0, b"ment")
    reader = websocket.FrameReader()
    data = b""
    for piece in (first[:3], first[3:] + stream[len(first):]):
        buf = bytearray(websocket.MAX_CLIENT_HEADER + len(stream))
        start = reader.take_leftover(buf)
        buf[start:start + len(piece)] = piece
        size, _ = reader.feed(buf, start + len(piece))
        data += bytes(buf[:size])
    assert data == b"frag-ment"


def test_frame_reader_ignores_what_follows_a_close_frame():
    stream = (fakes.encode_frame(0x2, b"before") + fakes.encode_frame(0x8, b"\x03\xe8")
              + fakes.encode_frame(0x2, b"after"))
    data, controls = _feed_all(websocket.FrameReader(), stream, len(stream))
    assert data == b"before"
    assert controls == [(0x8, b"\x03\xe8")]


@pytest.mark.parametrize("frames,code", [
    ([fakes.encode_frame(0x2, b"x", mask=False)], 1002),            # not masked
    ([b"\xc2\x81mask" + b"x"], 1002),                              # reserved bit
    ([fakes.encode_frame(0x1, b"text")], 1003),                     # text frame
    ([fakes.encode_frame(0x9, b"x" * 126)], 1002),                  # control > 125
    ([fakes.encode_frame(0x9, b"x", fin=False)], 1002),             # fragmented control
    ([fakes.encode_frame(0x0, b"x")], 1002),                        # continuation first
    ([fakes.encode_frame(0x2, b"x", fin=False),
      fakes.encode_frame(0x2, b"y")], 1002),                        # new message too early
    ([fakes.encode_frame(0x3, b"x")], 1002),                        # unknown opcode
])
def test_frame_reader_refuses_what_rfc_6455_forbids(frames, code):
    stream = b"".join(frames)
    buf = bytearray(stream)
    with pytest.raises((websocket.ProtocolError, websocket.MessageTooBig)) as error:
        websocket.FrameReader().feed(buf, len(buf))
    assert error.value.code == code


def test_frame_reader_refuses_an_oversized_message_from_its_header_alone():
    reader = websocket.FrameReader(max_message_bytes=1024)
    header = bytearray(b"\x82\xff" + (2 ** 40).to_bytes(8, "big") + b"mask")
    with pytest.raises(websocket.MessageTooBig) as error:
        reader.feed(header, len(header))
    assert error.value.code == websocket.CLOSE_MESSAGE_TOO_BIG
    fragments = websocket.FrameReader(max_message_bytes=1024)
    stream = bytearray(fakes.encode_frame(0x2, b"x" * 600, fin=False)
                       + fakes.encode_frame(0x0, b"y" * 600))
    with pytest.raises(websocket.MessageTooBig):
        fragments.feed(stream, len(stream))
