"""TCP ports for the console servers of instances, handed out from a configured range.

A port is handed out only if nobody holds it in this allocator and a test bind on the
listen address succeeds right now, so a port used by another program is skipped. The
bind test cannot stop another program from taking the port a moment later: the caller
must still treat "address in use" from the hypervisor as a possible outcome.

Ports are handed out round-robin from after the last one given, so a port just released
is the last to be reused: a console URL of a deleted instance is unlikely to point at a
new instance's console a moment later.
"""
import socket
import threading

from nova_console import exception

PROBE_TIMEOUT = 0.5


def parse_port_range(value, option="port_range"):
    """(min, max) from 'min:max'; ValueError with a readable reason when it is not one."""
    try:
        low, high = (int(part) for part in value.split(":"))
    except (AttributeError, ValueError):
        raise ValueError("%s %r is not 'min:max'" % (option, value)) from None
    if not 1 <= low <= high <= 65535:
        raise ValueError("%s %r is not a range of TCP ports: min must be at least 1, "
                         "max at most 65535 and min not above max" % (option, value))
    return low, high


def _bind_family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_is_free(host, port):
    """True if a listening socket could bind (host, port) right now.

    Binds with SO_REUSEADDR, as QEMU and most servers do, so a port whose last
    connections linger in TIME_WAIT counts as free.
    """
    with socket.socket(_bind_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def connect_host(listen):
    """Where to connect to reach a server listening on `listen` (a wildcard is local)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen, listen)


def accepts(host, port, timeout=PROBE_TIMEOUT):
    """True if a TCP connection to (host, port) succeeds now (a server listens there)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class PortAllocator:
    """Ports of one range on one listen address; thread-safe.

    ``owner`` is any hashable (an instance uuid) so that what an instance holds can be
    listed and released.
    """

    def __init__(self, host, port_min, port_max, option="port_range"):
        if not 1 <= port_min <= port_max <= 65535:
            raise ValueError("bad port range %d:%d" % (port_min, port_max))
        self.host = host
        self.port_min = port_min
        self.port_max = port_max
        self._option = option
        self._lock = threading.Lock()
        self._held = {}  # port -> owner
        self._next = port_min

    @classmethod
    def from_option(cls, host, value, option):
        """An allocator over the 'min:max' range `value` of the option named `option`."""
        low, high = parse_port_range(value, option)
        return cls(host, low, high, option=option)

    @property
    def range_text(self):
        return "%d:%d" % (self.port_min, self.port_max)

    def allocate(self, owner):
        """A free port, now held by `owner`; SocketPortRangeExhaustedException if none is."""
        with self._lock:
            size = self.port_max - self.port_min + 1
            for step in range(size):
                port = self.port_min + (self._next - self.port_min + step) % size
                if port in self._held or not port_is_free(self.host, port):
                    continue
                self._held[port] = owner
                self._next = self.port_min + (port + 1 - self.port_min) % size
                return port
        raise exception.SocketPortRangeExhaustedException(
            host=self.host, port_range="%s (%s)" % (self.range_text, self._option))

    def reserve(self, port, owner):
        """Mark `port` as held by `owner` without a bind test (its server already runs).

        For instances found running at start-up. False, and nothing changes, if another
        owner holds the port already.
        """
        with self._lock:
            holder = self._held.setdefault(port, owner)
        return holder == owner

    def release(self, port, owner=None):
        """Give `port` back (only if `owner` holds it, when given); unheld ports are a no-op."""
        with self._lock:
            if port in self._held and (owner is None or self._held[port] == owner):
                del self._held[port]

    def held(self):
        """{port: owner} of every port handed out and not yet released."""
        with self._lock:
            return dict(self._held)
