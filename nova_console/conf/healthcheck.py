"""[healthcheck] and [oslo_middleware]: /healthcheck on the API and on every console proxy,
and the API behind a TLS-terminating proxy.

The [healthcheck] group is oslo.middleware's (backends, detailed, disable_by_file_path,
allowed_source_ranges, ignore_proxied_requests); the options below join it, so an operator
finds every health-check option in one place. [oslo_middleware]
enable_proxy_headers_parsing is http_proxy_to_wsgi's.
"""
from oslo_config import cfg
from oslo_middleware import opts as middleware_opts

healthcheck_group = cfg.OptGroup("healthcheck", title="Health checks (/healthcheck)")

healthcheck_opts = [
    cfg.FloatOpt("backend_timeout", default=2.0, min=0.1,
                 help="Seconds /healthcheck waits for a dependency (the message bus; the "
                      "database of the API) to answer. One that has not answered by then "
                      "is reported unavailable (503); the check itself goes on in the "
                      "background and its answer serves the next request."),
    cfg.FloatOpt("backend_cache_time", default=5.0, min=0,
                 help="Seconds a dependency's answer is reused by /healthcheck, so that "
                      "many load balancers polling many processes do not each reach the "
                      "message bus or the database. 0 asks again at every request (at "
                      "most one question per dependency is in flight in a process, "
                      "whatever the number of requests)."),
    cfg.ListOpt("proxy_detailed_source_ranges", default=["127.0.0.0/8", "::1/128"],
                help="Networks (CIDR) whose clients get the detailed view of a console "
                     "proxy's /healthcheck (each check's details, threads and stacks); "
                     "everyone else gets the simple one (200 OK or 503). The proxies have "
                     "no user authentication; the API gives the detailed view to "
                     "administrators instead. Empty: nobody, unless "
                     "[healthcheck] detailed is set."),
]


def register_opts(conf):
    conf.register_group(healthcheck_group)
    conf.register_opts(healthcheck_opts, group=healthcheck_group)
    for group, opts in _middleware_opts():
        conf.register_opts(opts, group=group)


def _middleware_opts():
    """oslo.middleware's options of the health check and of http_proxy_to_wsgi."""
    return (middleware_opts.list_opts_healthcheck()
            + middleware_opts.list_opts_http_proxy_to_wsgi())


def list_opts():
    opts = {healthcheck_group: list(healthcheck_opts)}
    for group, group_opts in _middleware_opts():
        if group == healthcheck_group.name:
            opts[healthcheck_group].extend(group_opts)
        else:
            opts[group] = list(group_opts)
    return opts
