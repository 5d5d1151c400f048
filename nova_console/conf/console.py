"""[console]: options shared by all console proxies."""
from oslo_config import cfg

console_group = cfg.OptGroup("console", title="Console proxy options")

console_opts = [
    cfg.ListOpt("allowed_origins", default=[], mutable=True,
                help="Host names (or host:port) that WebSocket connections to the proxies "
                     "may come from, besides the proxy's own Host."),
    cfg.StrOpt("ssl_ciphers", mutable=True,
               help="OpenSSL cipher list the proxies offer to clients over TLS."),
    cfg.StrOpt("ssl_minimum_version", default="default", mutable=True,
               choices=["default", "tlsv1_1", "tlsv1_2", "tlsv1_3"],
               help="Oldest TLS version the proxies accept from clients."),
    cfg.IntOpt("request_timeout", default=30, min=1, mutable=True,
               help="Seconds a client has to send a complete request (its head) to a "
                    "console proxy; a client that sends less, or too slowly, is "
                    "disconnected. The proxy's own protocol step before the relay (a "
                    "security negotiation) has the same time."),
    cfg.StrOpt("auth_plugin",
               help="A websockify authentication plugin that every console connection "
                    "must also pass, after its token: a class name of "
                    "websockify.auth_plugins (e.g. 'BasicHTTPAuth', "
                    "'ClientCertCNAuth') or a 'package.module.Class' of your own with "
                    "the same interface: Class(auth_source).authenticate(headers, "
                    "target_host, target_port), raising "
                    "websockify.auth_plugins.AuthenticationError to refuse."),
    cfg.StrOpt("auth_source", secret=True,
               help="The argument the auth_plugin is made with (e.g. 'user:password' "
                    "for BasicHTTPAuth)."),
    cfg.IntOpt("backend_connect_timeout", default=10, min=1, mutable=True,
               help="Seconds the proxy waits for the compute host's console server to "
                    "accept a connection."),
    cfg.IntOpt("workers", default=1, min=1,
               help="Processes of each console proxy, sharing its listening socket. One "
                    "process holds thousands of sessions on green threads; one per core "
                    "lets a busy proxy use every core."),
]


def register_opts(conf):
    conf.register_group(console_group)
    conf.register_opts(console_opts, group=console_group)


def list_opts():
    return {console_group: console_opts}
