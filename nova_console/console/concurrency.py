"""How every console proxy runs: the one concurrency model, in one place.

* One eventlet hub per process. The services are monkey-patched
  (nova_console.cmd), but the proxy does not rely on it: every socket it uses
  is made green here, so the same code runs in an unpatched process (unit
  tests run the server in an ordinary thread, which then owns a hub of its own).
* A green thread per connection for the HTTP part (request, Origin, token RPC,
  console server connect); during the relay a session costs that green thread
  (client -> console direction) and one more (console -> client direction):
  about 8 KiB each while parked, no OS thread and no process per connection.
* Buffers are borrowed from a shared pool only while bytes are in flight, so
  an idle session holds none (buffers.py).
* Optionally several worker processes share one listening socket
  (launcher.py, on oslo.service): one hub per core.

Nothing here may block the hub: blocking calls would stall every session of
the process.
"""

import eventlet
from eventlet import event as green_event
from eventlet import greenio
from eventlet import greenpool
from eventlet import hubs
from eventlet import semaphore
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# Where the process' sockets would block, the calling green thread yields.
Lock = semaphore.Semaphore
Event = green_event.Event
GreenPool = greenpool.GreenPool
Timeout = eventlet.Timeout
sleep = eventlet.sleep
spawn_n = eventlet.spawn_n


def green_socket(sock):
    """sock as a green socket (itself if it is one already, as under monkey patching)."""
    if isinstance(sock, greenio.GreenSocket) or hasattr(sock, "_sslobj"):
        return sock
    return greenio.GreenSocket(sock)


def wait_readable(sock, timeout=None):
    """Block the calling green thread until sock has bytes to read (or is closed);
    no buffer is held meanwhile. TLS sockets may already hold decrypted bytes."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return
    hubs.trampoline(sock.fileno(), read=True, timeout=timeout,
                    timeout_exc=TimeoutError("timed out"))


def call_aside(function, *args):
    """function(*args) in a green thread of its own, waited for: its result, or
    its exception. A session's green thread lives as long as the session, and
    every page its stack ever touched stays resident that long; deep calls (an
    RPC client, a logging call through its handlers) made aside leave it
    shallow. Measured: logging a session's start from its own green thread cost
    3.5 KiB of RSS per idle session."""
    return eventlet.spawn(function, *args).wait()


def call_later(seconds, function, *args):
    """Run function(*args) in a new green thread after `seconds`; returns an object
    with cancel()."""
    return hubs.get_hub().schedule_call_global(seconds, eventlet.spawn_n, function, *args)

