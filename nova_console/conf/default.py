"""Options of the [DEFAULT] group shared by every service."""
import os
import socket

from oslo_config import cfg

default_opts = [
    cfg.StrOpt("host", default=socket.gethostname(), sample_default="<current_hostname>",
               help="Name of this node. A compute service is reached over RPC under this "
                    "name (topic 'compute', server=host), so it must be unique per "
                    "hypervisor host."),
    cfg.StrOpt("state_path", default=os.path.join(os.path.expanduser("~"), ".nova_console"),
               sample_default="$HOME/.nova_console",
               help="Directory where the services keep their state (the SQLite database "
                    "by default)."),
    cfg.StrOpt("compute_driver", default="fake",
               help="Driver the compute service uses to run instances: the name of an entry "
                    "point in the 'nova_console.compute.drivers' group (e.g. 'fake') or "
                    "'package.module:ClassName'."),
    cfg.IntOpt("report_interval", default=10, min=1,
               help="Seconds between two heartbeats of a compute service."),
    cfg.IntOpt("sync_power_state_interval", default=600,
               help="Seconds between two checks by a compute service that the instances "
                    "the API knows on its host are still running, with their states "
                    "reported to the API. A negative value disables the periodic check "
                    "(the one at service start always runs)."),
    cfg.IntOpt("service_down_time", default=60, min=1, mutable=True,
               help="A compute service whose last heartbeat is older than this many "
                    "seconds is considered down; new servers are not scheduled on it."),
    cfg.StrOpt("web", default="/usr/share/novnc",
               help="Directory of the web client files the console proxy serves (noVNC for "
                    "nova-novncproxy)."),
    cfg.BoolOpt("ssl_only", default=False,
                help="Refuse plain (non-TLS) connections to the console proxies."),
    cfg.StrOpt("cert", default="self.pem", mutable=True,
               help="TLS certificate file of the console proxies."),
    cfg.StrOpt("key", mutable=True,
               help="TLS private key file of the console proxies (when not in 'cert')."),
    cfg.BoolOpt("source_is_ipv6", default=False,
                help="Listen on IPv6 in the console proxies."),
    cfg.HostAddressOpt("osapi_compute_listen", default="0.0.0.0",
                       help="Address the REST API listens on."),
    cfg.PortOpt("osapi_compute_listen_port", default=8774,
                help="Port the REST API listens on."),
    cfg.IntOpt("client_socket_timeout", default=900, min=0,
               help="Seconds the REST API keeps an idle client connection open "
                    "(0: forever)."),
]


def register_opts(conf):
    conf.register_opts(default_opts)


def list_opts():
    return {"DEFAULT": default_opts}
