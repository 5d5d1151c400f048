"""nova-console-manage: the operator's commands, in nova-manage's style.

    nova-console-manage [--config-file FILE] db sync
    nova-console-manage db version
    nova-console-manage db purge --before DATE
    nova-console-manage console tokens list [--instance UUID]
    nova-console-manage console tokens revoke (--instance UUID | --all-expired)

Exit status: 0 done, 1 the command failed (database unreachable or not synced, ...),
2 bad input (a date that is not one, a missing option, a config file not found).
Every failure is one line on stderr; `--debug` adds the traceback to the log.
A token is never printed: listings show the first characters of its sha256, as the
services' logs do.
"""
import collections
import datetime
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import timeutils
from oslo_utils import uuidutils

from nova_console import conf as nc_conf
from nova_console import config
from nova_console.db import api as db_api
from nova_console.db import migration

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """The operator's arguments cannot be used (exit status 2)."""


# --- db ------------------------------------------------------------------------------

def db_sync(args):
    """Create or upgrade the schema (creating the state directory for SQLite first)."""
    migration.db_sync()
    print("Database is at revision %s" % migration.db_version())


def db_version(args):
    print(migration.db_version() or "none (run 'nova-console-manage db sync')")


def _utc_iso(timestamp):
    """A Unix time as ISO 8601 in UTC, to the second ('2025-01-31T12:00:00Z')."""
    moment = datetime.datetime.fromtimestamp(int(timestamp), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_before(text):
    """The --before moment as a Unix time: an ISO 8601 date or date and time, UTC unless
    it names its offset ('2025-01-31', '2025-01-31T12:00:00+02:00')."""
    try:
        return timeutils.parse_isotime(text.strip()).timestamp()
    except ValueError as exc:
        raise BadInput("Invalid --before date %r (%s): use an ISO 8601 date such as "
                       "2025-01-31 or 2025-01-31T12:00:00Z" % (text, exc)) from exc


def db_purge(args):
    """Remove for good what was deleted before --before: deleted instances and the rows
    of tables that belong to them (console tokens, ...), then console tokens that
    expired before it. Prints the rows removed per table, then the total."""
    before = parse_before(args.before)
    migration.check_schema_current()
    counts = collections.Counter(db_api.instance_purge_deleted(before))
    # Other tokens go once expired: never one that still opens a console, whatever
    # the date.
    counts["console_auth_tokens"] += db_api.console_token_purge_expired(
        now=min(before, time.time()))
    for table, count in sorted(counts.items()):
        print("%s: %d rows purged" % (table, count))
    print("Purged %d rows deleted or expired before %s" % (
        sum(counts.values()), _utc_iso(before)))


# --- console tokens ------------------------------------------------------------------

TOKEN_COLUMNS = ("instance_uuid", "console_type", "host:port", "expires", "token_sha256")


def _token_row(token):
    """What an admin may see of a token: never the token, only its hash's prefix."""
    return (token["instance_uuid"], token["console_type"],
            "%s:%s" % (token["host"], token["port"]), _utc_iso(token["expires"]),
            "sha256:%s" % token["token_hash"][:12])


def print_table(columns, rows):
    """Left-aligned columns under a header, as plain text a script can `awk`."""
    rows = [columns] + [tuple(str(value) for value in row) for row in rows]
    widths = [max(len(row[index]) for row in rows) for index in range(len(columns))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def instance_argument(args):
    """--instance, checked: a UUID (any case, as Nova accepts it), or None."""
    if args.instance is None:
        return None
    if not uuidutils.is_uuid_like(args.instance):
        raise BadInput("Invalid --instance %r: not a UUID" % args.instance)
    return args.instance.lower()  # as servers' uuids are stored


def console_tokens_list(args):
    """The console tokens that still open a console, oldest first."""
    instance = instance_argument(args)
    migration.check_schema_current()
    tokens = db_api.console_token_get_all(instance_uuid=instance)
    print_table(TOKEN_COLUMNS, [_token_row(token) for token in tokens])


def console_tokens_revoke(args):
    """Delete the tokens of an instance (a console URL handed out no longer opens;
    sessions already open go on) and/or every expired token; prints how many went."""
    instance = instance_argument(args)
    if not (instance or args.all_expired):
        raise BadInput("Nothing to revoke: give --instance UUID and/or --all-expired")
    migration.check_schema_current()
    if instance:
        count = db_api.console_token_delete_for_instance(instance)
        print("Revoked %d console tokens of instance %s" % (count, instance))
    if args.all_expired:
        print("Revoked %d expired console tokens" % db_api.console_token_purge_expired())


# --- the command line ----------------------------------------------------------------

Command = collections.namedtuple("Command", "words function help arguments")
Argument = collections.namedtuple("Argument", "flags options")

COMMANDS = (
    Command(("db", "sync"), db_sync, "create or upgrade the database schema", ()),
    Command(("db", "version"), db_version, "print the schema revision", ()),
    Command(("db", "purge"), db_purge,
            "remove instances deleted, and console tokens expired, before a date",
            (Argument(("--before",), {"required": True, "metavar": "DATE",
                                      "help": "ISO 8601 date or date and time (UTC unless "
                                              "an offset is given), e.g. 2025-01-31"}),)),
    Command(("console", "tokens", "list"), console_tokens_list,
            "list the valid console tokens (never the tokens themselves)",
            (Argument(("--instance",), {"metavar": "UUID",
                                        "help": "only the tokens of this instance"}),)),
    Command(("console", "tokens", "revoke"), console_tokens_revoke,
            "delete console tokens",
            (Argument(("--instance",), {"metavar": "UUID",
                                        "help": "every token of this instance"}),
             Argument(("--all-expired",), {"action": "store_true",
                                           "help": "every expired token"}))),
)


def add_command_parsers(subparsers):
    """oslo.config's SubCommandOpt handler: one argparse sub-command per COMMANDS
    entry, nested by its words ('console tokens list')."""
    tree = {}
    for command in COMMANDS:
        node = tree
        for word in command.words[:-1]:
            node = node.setdefault(word, {})
        node[command.words[-1]] = command
    _add_parsers(subparsers, tree, depth=1)


def _add_parsers(subparsers, tree, depth):
    for word, node in tree.items():
        if isinstance(node, Command):
            parser = subparsers.add_parser(word, help=node.help, description=node.help)
            for argument in node.arguments:
                parser.add_argument(*argument.flags, **argument.options)
            parser.set_defaults(command_function=node.function)
        else:
            level = subparsers.add_parser(word).add_subparsers(
                dest="action%d" % depth, metavar="COMMAND")
            level.required = True
            _add_parsers(level, node, depth + 1)


category_opt = cfg.SubCommandOpt("category", title="Commands", handler=add_command_parsers)


def run(args):
    """Run the parsed command; its exit status. Failures are one line on stderr."""
    try:
        with migration.reported_errors():
            args.command_function(args)
    except BadInput as exc:
        print("Error: %s" % exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except migration.DatabaseNotReady as exc:
        LOG.debug("Database not ready", exc_info=True)
        print("Error: %s" % exc, file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # an operator tool reports, it does not dump a traceback
        LOG.debug("Command failed", exc_info=True)
        print("Error: %s" % (" ".join(str(exc).split()) or type(exc).__name__),
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv=None):
    CONF.register_cli_opt(category_opt)
    config.parse_args(sys.argv if argv is None else argv)
    return run(CONF.category)
