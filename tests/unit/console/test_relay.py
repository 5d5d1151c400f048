"""The relay and the client stream on their own, over real socket pairs: the same
session for a raw client (XVP's Java viewers) and a WebSocket one, and what a
negotiator reads through a ClientStream before the relay takes over."""
import os
import socket
import threading

import pytest

from nova_console.console import concurrency
from nova_console.console import framing
from nova_console.console import relay
from nova_console.console import websocket

from . import fakes


class Session:
    """A relay between two socket pairs, run in a thread (with a hub of its own):
    the test holds `client` and `console`, the far ends."""

    def __init__(self, client_framing, unread=b"", decoded_by_negotiator=None):
        self.client, proxy_client = socket.socketpair()
        proxy_console, self.console = socket.socketpair()
        for sock in (self.client, self.console):
            sock.settimeout(10)
        self.stream = framing.ClientStream(concurrency.green_socket(proxy_client),
                                           client_framing, unread)
        self.relay = relay.Relay(self.stream, concurrency.green_socket(proxy_console))
        self.done = threading.Event()
        self._negotiate = decoded_by_negotiator
        self.negotiated = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            if self._negotiate:
                self.negotiated = self.stream.recv_exactly(self._negotiate)
            self.relay.run()
        finally:
            self.done.set()


def test_raw_client_bytes_pass_intact_both_ways_and_unframed():
    session = Session(framing.RawFraming())
    big = os.urandom(3 * 1024 * 1024)
    session.console.sendall(b"RFB 003.008\n")
    assert fakes.recv_exactly(session.client, 12) == b"RFB 003.008\n"  # no frame header
    sender = threading.Thread(target=session.client.sendall, args=(big,))
    sender.start()
    assert fakes.recv_exactly(session.console, len(big)) == big
    sender.join()
    sender = threading.Thread(target=session.console.sendall, args=(big,))
    sender.start()
    assert fakes.recv_exactly(session.client, len(big)) == big
    sender.join()
    session.client.close()
    assert session.done.wait(10)
    assert session.relay.bytes_to_backend == len(big)
    assert session.relay.bytes_to_client == len(big) + 12
    assert session.relay.end_reason == "client closed the connection"


def test_raw_client_sees_the_console_hang_up_as_a_plain_close():
    session = Session(framing.RawFraming())
    session.console.sendall(b"bye")
    session.console.close()
    assert fakes.read_to_eof(session.client) == b"bye"  # no close frame: raw bytes only
    assert session.done.wait(10)
    assert session.relay.end_reason == "console server closed the connection"


def test_raw_client_bytes_read_with_the_request_reach_the_console_first():
    session = Session(framing.RawFraming(), unread=b"early ")
    session.client.sendall(b"late")
    assert fakes.recv_exactly(session.console, 10) == b"early late"


def test_websocket_client_gets_frames_and_a_close_frame_at_the_end():
    session = Session(framing.WebSocketFraming())
    client = fakes.WSClient(0, sock=session.client)
    session.console.sendall(b"hello")
    assert client.recv_frame() == (websocket.OP_BINARY, b"hello")
    client.send(b"typed")
    assert fakes.recv_exactly(session.console, 5) == b"typed"
    session.console.close()
    assert client.wait_closed() == websocket.CLOSE_NORMAL
    assert session.done.wait(10)


def test_what_a_negotiator_read_past_its_need_reaches_the_console():
    """A negotiator asks for 4 bytes; the client's frames carried more, and a ping:
    the ping is answered and the rest goes to the console, in order."""
    session = Session(framing.WebSocketFraming(), decoded_by_negotiator=4)
    client = fakes.WSClient(0, sock=session.client)
    client.send_raw(fakes.encode_frame(0x2, b"abcd" + b"efgh")
                    + fakes.encode_frame(0x9, b"ping")
                    + fakes.encode_frame(0x2, b"ijkl"))
    assert client.recv_frame() == (websocket.OP_PONG, b"ping")
    assert fakes.recv_exactly(session.console, 8) == b"efghijkl"
    assert session.negotiated == b"abcd"


def test_a_client_that_closes_during_negotiation_ends_the_stream():
    a, b = socket.socketpair()
    stream = framing.ClientStream(concurrency.green_socket(b), framing.WebSocketFraming())
    a.sendall(fakes.encode_frame(0x8, (1001).to_bytes(2, "big")))
    with pytest.raises(framing.ClientClosed):
        stream.recv(1)
    assert stream.close_code == 1001
    a.close()
    raw = framing.ClientStream(concurrency.green_socket(b), framing.RawFraming())
    with pytest.raises(framing.ClientClosed):
        raw.recv(1)


def test_client_stream_sendall_frames_for_a_websocket_and_not_for_raw():
    a, b = socket.socketpair()
    framed = framing.ClientStream(concurrency.green_socket(b), framing.WebSocketFraming())
    framed.sendall(b"\x01\x02")
    assert a.recv(16) == b"\x82\x02\x01\x02"
    plain = framing.ClientStream(concurrency.green_socket(b), framing.RawFraming())
    plain.sendall(b"\x01\x02")
    assert a.recv(16) == b"\x01\x02"
