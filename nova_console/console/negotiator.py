"""The negotiator slot: a protocol step between a console's acceptance and its relay.

Once the client was answered yes (101, or 200 to a CONNECT) and before bytes are
relayed, a proxy's negotiator may speak with both ends: with the client through
a framing.ClientStream (recv, recv_exactly, sendall, as over a socket, whatever
the client's framing) and with the console server over its socket. Nova's RFB
security proxy works there: it completes the RFB handshake with the compute
host's VNC server itself (VeNCrypt, x509) and offers the client security type
None, the token having authenticated it already. A proxy gets its negotiator
from its settings; the relay never knows one ran, and whatever the negotiator
read from the client and did not use still reaches the console.

A negotiator returns when the relay may start, and raises NegotiationFailed
(with a reason fit for the log and the client) to end the connection instead.
The proxy bounds the whole negotiation by its request timeout.
"""


class NegotiationFailed(Exception):
    """The negotiation did not succeed; str() says why (no secrets in it)."""


class Negotiator:
    """Base of the negotiators."""

    #: Shown in logs.
    name = "negotiator"

    def negotiate(self, client, backend, connect_info):
        """Speak with the client (framing.ClientStream) and the console server (a
        connected socket) until the relay may start.

        connect_info: the token's connect_info.ConnectInfo. Raises
        NegotiationFailed to refuse the session.
        """
        raise NotImplementedError()


class NoNegotiation(Negotiator):
    """The client and the console server speak to each other from the first byte."""

    name = "none"

    def negotiate(self, client, backend, connect_info):
        return None


NO_NEGOTIATION = NoNegotiation()
