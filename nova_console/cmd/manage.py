"""nova-console-manage: operator commands (`db sync`, `db version`)."""
import sys

from oslo_config import cfg

from nova_console import conf as nc_conf
from nova_console import config
from nova_console.db import migration

CONF = nc_conf.CONF


def _db_sync():
    migration.db_sync()
    print("Database is at revision %s" % migration.db_version())


def _db_version():
    print(migration.db_version() or "none (run 'nova-console-manage db sync')")


DB_ACTIONS = {"sync": _db_sync, "version": _db_version}


def _add_parsers(subparsers):
    db_parser = subparsers.add_parser("db", help="database schema")
    db_parser.add_argument("action", choices=sorted(DB_ACTIONS))


category_opt = cfg.SubCommandOpt("category", title="Command categories",
                                 handler=_add_parsers)


def main():
    CONF.register_cli_opt(category_opt)
    config.parse_args(sys.argv)
    try:
        DB_ACTIONS[CONF.category.action]()
    except Exception as exc:
        print("Error: %s" % exc, file=sys.stderr)
        return 1
    return 0
