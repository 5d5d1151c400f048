"""Schema migrations with Alembic: `nova-console-manage db sync` and the start-up check."""
import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script

from nova_console.db import api as db_api

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def _alembic_config(connection):
    config = alembic_config.Config(os.path.join(MIGRATIONS_DIR, "alembic.ini"))
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["connection"] = connection
    return config


def db_sync(revision="head"):
    """Bring the database of [database] connection to `revision`."""
    engine = db_api.get_engine()
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def db_version():
    with db_api.get_engine().connect() as connection:
        return alembic_migration.MigrationContext.configure(connection).get_current_revision()


def head_version():
    return alembic_script.ScriptDirectory(MIGRATIONS_DIR).get_current_head()


def check_schema_current():
    """Raise a clear error at service start when `db sync` has not been run."""
    current = db_version()
    if current != head_version():
        raise RuntimeError(
            "Database schema is at revision %s, this code needs %s: run "
            "'nova-console-manage db sync'" % (current, head_version()))
