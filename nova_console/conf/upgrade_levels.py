"""[upgrade_levels]: RPC version caps for rolling upgrades."""
from oslo_config import cfg

upgrade_group = cfg.OptGroup("upgrade_levels", title="RPC version caps",
                             help="Cap the RPC version a client sends to a service, so old "
                                  "and new services can run side by side during an upgrade.")

upgrade_opts = [
    cfg.StrOpt("compute", help="RPC version cap for messages to nova-console-compute."),
    cfg.StrOpt("consoleauth", help="RPC version cap for messages to nova-consoleauth."),
    cfg.StrOpt("api", help="RPC version cap for messages to nova-console-api."),
]


def register_opts(conf):
    conf.register_group(upgrade_group)
    conf.register_opts(upgrade_opts, group=upgrade_group)


def list_opts():
    return {upgrade_group: upgrade_opts}
