"""Entry point for oslo-config-generator (namespace 'nova_console.conf')."""
from nova_console.conf import ALL_MODULES


def list_opts():
    opts = {}
    for module in ALL_MODULES:
        for group, group_opts in module.list_opts().items():
            opts.setdefault(group, []).extend(group_opts)
    return list(opts.items())
