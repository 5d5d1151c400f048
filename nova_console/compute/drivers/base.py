"""The contract every compute driver fulfils.

A driver owns the instances of one host. The compute manager calls it from
RPC handlers (several at once: implementations must be thread-safe) and never
touches the hypervisor itself. Instances are plain dicts with at least
``uuid`` and ``name``.

Errors: raise ``exception.InstanceNotFound`` for an instance the driver does
not know, ``exception.NotImplementedByDriver`` (what ``ComputeDriver`` does by
default) for a console the driver cannot give, and any other
``exception.NovaConsoleException`` for a failure the user should read about.
"""
import dataclasses

from nova_console import exception

# Power states, Nova's numbers.
NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6


@dataclasses.dataclass(frozen=True)
class ConsoleEndpoint:
    """Where, on the host's private network, a console server of an instance listens."""

    host: str
    port: int
    internal_access_path: str | None = None
    tls_port: int | None = None


class ComputeDriver:
    """Base class of compute drivers; subclasses override what they support."""

    def init_host(self, host):
        """Called once at service start, before any other method."""

    def cleanup_host(self, host):
        """Called once at service stop."""

    def spawn(self, instance):
        """Create and start the instance; return only once its consoles are reachable."""
        raise NotImplementedError()

    def destroy(self, instance):
        """Stop the instance and free everything it held. Unknown instances are a no-op."""
        raise NotImplementedError()

    def list_instances(self):
        """UUIDs of the instances this driver runs on this host."""
        raise NotImplementedError()

    def get_power_state(self, instance):
        """One of the power state constants above; InstanceNotFound if unknown."""
        raise NotImplementedError()

    def get_vnc_console(self, instance):
        """The instance's VNC server as a ConsoleEndpoint."""
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="VNC consoles")
