"""[mks]: VMware MKS (WebMKS) consoles (Nova's names and defaults).

This project runs no MKS proxy: a driver that has MKS consoles (VMware's) hands out
URLs of the operator's MKS proxy, whose tokens live in consoleauth like the others.
"""
from oslo_config import cfg

mks_group = cfg.OptGroup("mks", title="MKS console options",
                         help="WebMKS consoles (remote-consoles protocol 'mks', type "
                              "'webmks', microversion 2.8 and later).")

mks_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="Give instances an MKS console, for drivers that have one."),
    cfg.URIOpt("mksproxy_base_url", default="http://127.0.0.1:6090/",
               help="Public URL of the MKS proxy. The console URL handed to users is "
                    "this URL with '?token=<token>' added."),
]


def register_opts(conf):
    conf.register_group(mks_group)
    conf.register_opts(mks_opts, group=mks_group)


def list_opts():
    return {mks_group: mks_opts}
