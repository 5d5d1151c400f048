"""[consoleauth]: lifetime of console tokens."""
from oslo_config import cfg

consoleauth_group = cfg.OptGroup("consoleauth", title="Console token options")

consoleauth_opts = [
    cfg.IntOpt("token_ttl", default=600, min=0, deprecated_name="console_token_ttl",
               deprecated_group="DEFAULT",
               help="Seconds a console token stays valid after it was issued."),
    cfg.BoolOpt("enforce_session_timeout", default=False,
                help="Close a console session when its token expires, even if the session "
                     "is still in use. By default an open session outlives its token."),
    cfg.IntOpt("purge_interval", default=60, min=1,
               help="Seconds between two purges of expired tokens from the database."),
]


def register_opts(conf):
    conf.register_group(consoleauth_group)
    conf.register_opts(consoleauth_opts, group=consoleauth_group)


def list_opts():
    return {consoleauth_group: consoleauth_opts}
