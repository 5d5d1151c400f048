"""[consoleauth]: lifetime and checks of console tokens."""
from oslo_config import cfg

consoleauth_group = cfg.OptGroup("consoleauth", title="Console token options")

consoleauth_opts = [
    cfg.IntOpt("token_ttl", default=600, min=0, mutable=True, deprecated_name="console_token_ttl",
               deprecated_group="DEFAULT",
               help="Seconds a console token stays valid after it was issued."),
    cfg.BoolOpt("enforce_session_timeout", default=False, mutable=True,
                help="Close a console session when its token expires, even if the session "
                     "is still in use. By default an open session outlives its token."),
    cfg.IntOpt("purge_interval", default=60, min=1,
               help="Seconds between two purges of expired tokens from the database."),
    cfg.IntOpt("port_check_timeout", default=5, min=1,
               help="Seconds consoleauth waits for a compute host to confirm that a "
                    "token's port is still its instance's console before it refuses the "
                    "token. A healthy host answers in milliseconds; checks of other "
                    "consoles that travel in the same check_tokens message wait for the "
                    "slowest answer, so keep this well below rpc_response_timeout."),
]


def register_opts(conf):
    conf.register_group(consoleauth_group)
    conf.register_opts(consoleauth_opts, group=consoleauth_group)


def list_opts():
    return {consoleauth_group: consoleauth_opts}
