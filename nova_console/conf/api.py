"""[api]: the REST API."""
from oslo_config import cfg

api_group = cfg.OptGroup("api", title="REST API options")

api_opts = [
    cfg.StrOpt("auth_strategy", default="noauth2", choices=["noauth2"],
               help="How callers are identified. noauth2: the X-Auth-Token 'user:project' "
                    "names the caller (admin when the user is 'admin'); any other token "
                    "acts as noauth2_default_user in noauth2_default_project. For "
                    "development and trusted networks only."),
    cfg.StrOpt("noauth2_default_user", default="demo",
               help="User of requests whose X-Auth-Token is not 'user:project'."),
    cfg.StrOpt("noauth2_default_project", default="demo",
               help="Project of requests whose X-Auth-Token is not 'user:project'."),
    cfg.IntOpt("max_request_body_size", default=114688, min=1, mutable=True,
               help="Largest request body the API reads, in bytes."),
]


def register_opts(conf):
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)


def list_opts():
    return {api_group: api_opts}
