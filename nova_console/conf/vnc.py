"""[vnc]: VNC consoles, the noVNC proxy and the XVP proxy (Nova's names and defaults)."""
from oslo_config import cfg

vnc_group = cfg.OptGroup("vnc", title="VNC options",
                         help="VNC consoles of instances, and the nova-novncproxy and "
                              "nova-xvpvncproxy services.")

vnc_opts = [
    cfg.BoolOpt("enabled", default=True, deprecated_group="DEFAULT",
                help="Give instances a VNC console."),
    cfg.HostAddressOpt("server_listen", default="127.0.0.1",
                       help="Address on the compute host where the instances' VNC servers "
                            "listen."),
    cfg.HostAddressOpt("server_proxyclient_address", default="127.0.0.1",
                       help="Address of the compute host that the console proxies connect "
                            "to in order to reach the instances' VNC servers."),
    cfg.URIOpt("novncproxy_base_url", default="http://127.0.0.1:6080/vnc_lite.html",
               help="Public URL of the noVNC client page. The console URL handed to users "
                    "is this URL with 'path=%3Ftoken%3D<token>' added to its query."),
    cfg.HostAddressOpt("novncproxy_host", default="0.0.0.0",
                       help="Address nova-novncproxy listens on."),
    cfg.PortOpt("novncproxy_port", default=6080,
                help="Port nova-novncproxy listens on."),
    cfg.URIOpt("xvpvncproxy_base_url", default="http://127.0.0.1:6081/console",
               help="Public URL of nova-xvpvncproxy, for Java VNC viewers. The console "
                    "URL handed to users is this URL with '?token=<token>' added; the "
                    "viewer sends 'CONNECT <path of this URL>?token=<token>'."),
    cfg.HostAddressOpt("xvpvncproxy_host", default="0.0.0.0",
                       help="Address nova-xvpvncproxy listens on."),
    cfg.PortOpt("xvpvncproxy_port", default=6081,
                help="Port nova-xvpvncproxy listens on."),
    cfg.ListOpt("auth_schemes", item_type=cfg.types.String(choices=["none"]),
                default=["none"],
                help="RFB security types the proxy may use towards the compute host, in "
                     "order of preference."),
]


def register_opts(conf):
    conf.register_group(vnc_group)
    conf.register_opts(vnc_opts, group=vnc_group)


def list_opts():
    return {vnc_group: vnc_opts}
