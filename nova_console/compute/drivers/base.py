"""The contract every compute driver fulfils.

A driver owns the instances of one host. The compute manager calls it from
RPC handlers (several at once: implementations must be thread-safe) and never
touches the hypervisor itself. Instances are plain dicts with at least
``uuid`` (a UUID string) and ``name`` (any text; what users call the server).

Life of a driver: ``init_host`` once at service start, before any other method;
then any number of the other calls, concurrently; ``cleanup_host`` once at
service stop. Drivers are found by ``loader.load_driver``: an entry point in the
``nova_console.compute.drivers`` group or ``module:Class``; the constructor
takes no argument and reads its options from ``nova_console.conf.CONF``. A
constructor that raises stops the compute service at start with the reason, so
check there what would make every spawn fail (a missing binary, a bad option).

Errors, which reach the REST API as Nova's status codes:

- ``exception.InstanceNotFound`` (404): the driver does not know the instance
  (never spawned here, destroyed, or gone before this service started).
- ``exception.NotImplementedByDriver``: the driver cannot give this kind of
  console or action at all (what ``ComputeDriver`` does by default). For an
  action the API answers 501; for a console, 400 "Unavailable console type"
  with this message (the user asked for a type this server does not have).
- ``exception.ConsoleTypeUnavailable`` (400): the driver can, but the operator
  turned that console off (e.g. ``[serial_console] enabled = False``).
- ``exception.InstanceNotRunning`` (409): the instance is known but its guest
  does not run (it was powered off or its process died); it stays listed until
  destroyed, so that it can still be inspected and deleted.
- Any other ``exception.NovaConsoleException`` (e.g. ``InstanceDeployFailure``,
  ``SocketPortRangeExhaustedException``) for a failure the user should read
  about; its message is shown as is, so make it say what went wrong.

``nova_console.compute.drivers.conformance`` is a test suite that checks a
driver against this contract; see docs/drivers.md.
"""
import dataclasses

from nova_console import exception

@dataclasses.dataclass(frozen=True)
class ConsoleEndpoint:
    """Where, on the host's private network, a console server of an instance listens."""

    host: str
    port: int
    internal_access_path: str | None = None
    tls_port: int | None = None


class ComputeDriver:
    """Base class of compute drivers; subclasses override what they support."""

    #: True if instances keep running when the compute service stops, and a new
    #: driver object finds them again in ``init_host`` (as Nova's libvirt driver
    #: does). False if they live only as long as the driver object (the fake
    #: driver): then ``cleanup_host`` stops them.
    instances_survive_restart = False

    #: What os-hypervisors shows as this host's hypervisor_type (Nova's libvirt
    #: driver shows "QEMU"); None: the driver's name in ``[DEFAULT] compute_driver``.
    hypervisor_type = None

    def init_host(self, host):
        """Called once at service start, before any other method.

        A driver whose instances survive a restart re-adopts here every instance
        still running from a previous run of the service on this host, and only
        those: afterwards ``list_instances`` includes them, their consoles and
        power state work, and nothing they hold (console ports, ...) is ever
        handed to a new instance. An instance must be proved to be the same one
        (e.g. a process id is not enough: it may have been recycled). What is left
        of instances that are gone is removed.
        """

    def cleanup_host(self, host):
        """Called once at service stop.

        Frees what the driver holds in this process. It must not stop instances
        that survive a restart (they outlive the compute service, as in Nova);
        a driver whose instances live in-process stops them here.
        """

    def spawn(self, instance):
        """Create and start the instance; return only once its consoles are reachable.

        "Reachable" means a client connecting to ``get_vnc_console``'s endpoint
        now is answered. Raises ``exception.Invalid`` if the driver already runs
        an instance with this uuid. On any failure it raises (preferably a
        ``NovaConsoleException`` with a readable message) and leaves nothing
        behind: the instance is not listed, holds no port, no process and no file.
        """
        raise NotImplementedError()

    def destroy(self, instance):
        """Stop the instance and free everything it held. Unknown instances are a no-op.

        Returns once its consoles are closed (a connection to their ports is
        refused) and its ports can be handed out again. Also for an instance whose
        guest already died. Safe to call twice, and concurrently.
        """
        raise NotImplementedError()

    def reboot(self, instance):
        """Hard-reboot the guest (like pressing reset); its consoles keep their endpoints.

        InstanceNotFound if unknown, InstanceNotRunning if its guest does not run.
        """
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="rebooting instances")

    def list_instances(self):
        """UUIDs of the instances this driver has on this host (running or not)."""
        raise NotImplementedError()

    def get_power_state(self, instance):
        """One of nova_console.compute.power_state's constants; InstanceNotFound if unknown.

        SHUTDOWN (not InstanceNotFound) for a known instance whose guest stopped.
        """
        raise NotImplementedError()

    def get_vnc_console(self, instance):
        """The instance's VNC server (RFB 3.3 or later) as a ConsoleEndpoint.

        ``host`` is the address the console proxies connect to (``[vnc]
        server_proxyclient_address`` for a local hypervisor). The endpoint of an
        instance does not change while it exists (validate_console_port relies on
        it). InstanceNotFound if unknown, InstanceNotRunning if its guest does not
        run.
        """
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="VNC consoles")

    def get_spice_console(self, instance):
        """The instance's SPICE server as a ConsoleEndpoint (``tls_port`` if TLS is on).

        Same errors as get_vnc_console.
        """
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="SPICE consoles")

    def get_serial_console(self, instance):
        """The instance's first serial port as a raw TCP server, as a ConsoleEndpoint.

        ``host`` is ``[serial_console] proxyclient_address`` for a local
        hypervisor; the port comes from ``[serial_console] port_range``. Bytes a
        client sends reach the guest's serial port and the guest's output comes
        back. ConsoleTypeUnavailable if ``[serial_console] enabled`` is False;
        otherwise the same errors as get_vnc_console.
        """
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="serial consoles")

    def get_mks_console(self, instance):
        """The instance's VMware MKS console as a ConsoleEndpoint.

        Same errors as get_vnc_console.
        """
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="MKS consoles")

    def get_console_output(self, instance):
        """What the guest has written to its serial console (the console log), as text.

        Everything since the instance was spawned, or at least its most recent
        megabyte; bytes that are not UTF-8 are replaced, never an error. It keeps
        growing while a client is attached to the serial console, and stays
        readable after the guest stopped. The caller (the compute manager) keeps
        the tail it needs. InstanceNotFound if unknown.
        """
        raise exception.NotImplementedByDriver(driver=type(self).__name__,
                                               feature="console output")
