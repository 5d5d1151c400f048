"""Schema migrations with Alembic: `nova-console-manage db sync` and the start-up check."""
import contextlib
import os
import sys

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
import sqlalchemy as sa

from nova_console import conf as nc_conf
from nova_console.db import api as db_api

CONF = nc_conf.CONF
MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


class DatabaseNotReady(RuntimeError):
    """The database cannot serve this code: unreachable, or its schema is not at head.

    Services and nova-console-manage report it as one line and exit non-zero: it is
    an operator's step that is missing, not a bug.
    """


def describe_db_error(exc):
    """One line for an operator from a SQLAlchemy error: the driver's own message (which
    never holds the password), without the SQL statement and SQLAlchemy's help link."""
    reason = getattr(exc, "orig", None) or exc
    return " ".join(str(reason).split()) or type(reason).__name__


def _alembic_config(connection):
    config = alembic_config.Config(os.path.join(MIGRATIONS_DIR, "alembic.ini"))
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["connection"] = connection
    return config


def prepare_state_path():
    """Create [DEFAULT] state_path, and the directory of a SQLite database file, when
    missing: SQLite creates the file but not its directory, and the default database
    lives in state_path. Owner-only, as it holds the database."""
    directories = [CONF.state_path]
    url = sa.engine.make_url(CONF.database.connection)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        directories.append(os.path.dirname(os.path.abspath(url.database)))
    for directory in directories:
        os.makedirs(directory, mode=0o750, exist_ok=True)


def db_sync(revision="head"):
    """Bring the database of [database] connection to `revision`."""
    prepare_state_path()
    engine = db_api.get_engine()
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def db_version():
    """The revision the database is at, None if it was never synced."""
    with db_api.get_engine().connect() as connection:
        return alembic_migration.MigrationContext.configure(connection).get_current_revision()


def head_version():
    return alembic_script.ScriptDirectory(MIGRATIONS_DIR).get_current_head()


@contextlib.contextmanager
def reported_errors():
    """Turn the ways the database of [database] connection can fail (a URL that is not
    one, a driver not installed, a server that refuses, a file that cannot be opened)
    into DatabaseNotReady: one line, the URL shown without its password."""
    try:
        engine = db_api.get_engine()  # parses the URL and loads the driver, no connection
    except (sa.exc.ArgumentError, ImportError, ValueError) as exc:
        raise DatabaseNotReady("[database] connection cannot be used: %s"
                               % describe_db_error(exc)) from exc
    try:
        yield
    except sa.exc.DBAPIError as exc:
        raise DatabaseNotReady("Cannot use the database %s: %s" % (
            engine.url.render_as_string(hide_password=True), describe_db_error(exc))) from exc


def check_schema_current():
    """Raise DatabaseNotReady when the database cannot be used or `db sync` has not been
    run (or not since this code was installed): checked at service start, so that a
    service never runs against a schema it does not know."""
    with reported_errors():
        current = db_version()
    if current != head_version():
        raise DatabaseNotReady(
            "Database schema is at revision %s, this code needs %s: run "
            "'nova-console-manage db sync'" % (current or "none", head_version()))


def exit_unless_schema_current():
    """check_schema_current() at a service's start: a database that cannot serve this
    code ends the process with status 1 and one line saying why, not a traceback."""
    try:
        check_schema_current()
    except DatabaseNotReady as exc:
        sys.stderr.write("%s: error: %s\n" % (os.path.basename(sys.argv[0]), exc))
        raise SystemExit(1) from None
