"""[spice]: SPICE consoles, nova-spicehtml5proxy and spice-direct (Nova's names and defaults)."""
from oslo_config import cfg

spice_group = cfg.OptGroup(
    "spice", title="SPICE console options",
    help="SPICE consoles of instances: in a browser through nova-spicehtml5proxy "
         "(console type spice-html5), or with a native SPICE client through a SPICE "
         "proxy of the operator's (console type spice-direct, microversion 2.99).")

spice_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="Give instances a SPICE console (a SPICE server beside their VNC "
                     "server)."),
    cfg.BoolOpt("agent_enabled", default=True,
                help="Give guests the SPICE agent channel (a virtio-serial port named "
                     "com.redhat.spice.0), through which an agent in the guest follows "
                     "the client's screen size and shares its clipboard."),
    cfg.HostAddressOpt("server_listen", default="127.0.0.1",
                       help="Address on the compute host where the instances' SPICE "
                            "servers listen."),
    cfg.HostAddressOpt("server_proxyclient_address", default="127.0.0.1",
                       help="Address of the compute host that the console proxies connect "
                            "to in order to reach the instances' SPICE servers."),
    cfg.URIOpt("html5proxy_base_url", default="http://127.0.0.1:6082/spice_auto.html",
               help="Public URL of the spice-html5 client page. The console URL handed "
                    "to users is this URL with '?token=<token>' added."),
    cfg.HostAddressOpt("html5proxy_host", default="0.0.0.0",
                       help="Address nova-spicehtml5proxy listens on."),
    cfg.PortOpt("html5proxy_port", default=6082,
                help="Port nova-spicehtml5proxy listens on."),
    cfg.StrOpt("html5proxy_web", default="/usr/share/spice-html5",
               help="Directory of the spice-html5 client that nova-spicehtml5proxy "
                    "serves (Debian's spice-html5 package puts it here)."),
    cfg.URIOpt("spice_direct_proxy_base_url", default="http://127.0.0.1:13002/nova",
               help="Public URL of the native SPICE proxy in front of spice-direct "
                    "consoles. The console URL handed to users is this URL with "
                    "'?token=<token>' added; that proxy looks the token up with "
                    "GET /os-console-auth-tokens/<token> (as admin) to learn the "
                    "host, port and tls_port to connect to."),
]


def register_opts(conf):
    conf.register_group(spice_group)
    conf.register_opts(spice_opts, group=spice_group)


def list_opts():
    return {spice_group: spice_opts}
