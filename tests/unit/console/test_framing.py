"""framing.Base64Framing, directly: what the 'base64' subprotocol turns bytes into
and back."""
import base64

import pytest

from nova_console.console import framing
from nova_console.console import websocket


def test_each_chunk_becomes_one_text_frame_of_its_base64():
    frame = framing.Base64Framing().frame(b"\x00\xffhello")
    text = base64.b64encode(b"\x00\xffhello")
    assert frame == websocket.frame_header(websocket.OP_TEXT, len(text)) + text


@pytest.mark.parametrize("pieces,expected", [
    ([b"aGVsbG8="], b"hello"),
    ([b"aGVsbG8=", b"IHdvcmxk"], b"hello world"),       # frames encoded one by one
    ([b"aGVsbG8=IHdvcmxkIQ=="], b"hello world!"),        # two messages in one read
    ([b"aGV", b"sbG8", b"="], b"hello"),                 # split inside groups
    ([b"YQ==YQ==YQ=="], b"aaa"),                         # padding ends every group
    ([b""], b""),
], ids=["one", "two-frames", "joined", "split", "padded-groups", "empty"])
def test_client_text_decodes_however_it_is_split(pieces, expected):
    decoder = framing.Base64Framing()
    assert b"".join(decoder.decode(piece) for piece in pieces) == expected


@pytest.mark.parametrize("text", [b"aGVs!G8=", b"a=GV", b"aGVs\nbG8="])
def test_text_that_is_not_base64_ends_the_session_with_1007(text):
    with pytest.raises(websocket.ProtocolError) as raised:
        framing.Base64Framing().decode(text)
    assert raised.value.code == websocket.CLOSE_INVALID_PAYLOAD


def test_the_base64_reader_takes_text_frames_and_refuses_binary_ones():
    reader = framing.Base64Framing().reader
    binary = bytearray(websocket.frame_header(websocket.OP_BINARY, 0)[:1] + b"\x80" + bytes(4))
    with pytest.raises(websocket.ProtocolError) as raised:
        reader.feed(binary, len(binary))
    assert raised.value.code == websocket.CLOSE_UNSUPPORTED_DATA
