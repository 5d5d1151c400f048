"""The Alembic migrations themselves: what every database backend can store."""
from alembic import script as alembic_script

from nova_console.db import migration

# alembic_version.version_num is VARCHAR(32): PostgreSQL and MySQL refuse a longer
# revision id (SQLite does not check, so only a test catches it before an operator).
ALEMBIC_VERSION_NUM_LENGTH = 32


def test_every_revision_id_fits_alembic_version_on_every_backend():
    scripts = alembic_script.ScriptDirectory(migration.MIGRATIONS_DIR)
    revisions = [revision.revision for revision in scripts.walk_revisions()]
    assert len(revisions) >= 2
    too_long = [rev for rev in revisions if len(rev) > ALEMBIC_VERSION_NUM_LENGTH]
    assert not too_long
