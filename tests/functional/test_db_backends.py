"""The schema migrates and the token store works on the cluster databases.

PostgreSQL (127.0.0.1:5432, trust) and MariaDB/MySQL (127.0.0.1:3306, root) are used
when they answer; a fresh database is created for the test and dropped after it.
"""
import socket
import time
import uuid

import pytest
import sqlalchemy as sa

from nova_console.db import api as db
from nova_console.db import migration

SERVERS = {
    "postgresql": ("postgresql://postgres@127.0.0.1:5432/%s", 5432, "postgres"),
    "mysql": ("mysql+pymysql://root@127.0.0.1:3306/%s", 3306, ""),
}


def _reachable(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=sorted(SERVERS))
def backend_database(request, conf):
    url_format, port, admin_db = SERVERS[request.param]
    if not _reachable(port):
        pytest.skip("no %s server on 127.0.0.1:%d" % (request.param, port))
    name = "nova_console_test_%s" % uuid.uuid4().hex[:10]
    admin = sa.create_engine(url_format % admin_db, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE %s" % name))
    conf.set_override("connection", url_format % name, group="database")
    db.dispose_engine()
    try:
        yield request.param
    finally:
        db.dispose_engine()
        with admin.connect() as connection:
            connection.execute(sa.text("DROP DATABASE %s" % name))
        admin.dispose()


def test_schema_migrates_and_tokens_round_trip(backend_database):
    migration.db_sync()
    assert migration.db_version() == migration.head_version()
    migration.check_schema_current()
    expires = time.time() + 0.5  # sub-second precision must survive the column type
    db.console_token_create({"token_hash": "a" * 64, "console_type": "novnc", "host": "h",
                             "port": 5901, "instance_uuid": str(uuid.uuid4()),
                             "expires": expires})
    row = db.console_token_get_valid("a" * 64)
    assert row["port"] == 5901
    assert abs(row["expires"] - expires) < 0.001
    time.sleep(0.6)
    assert db.console_token_get_valid("a" * 64) is None
    assert db.console_token_purge_expired() == 1


def test_duplicate_token_hash_is_refused_whole(backend_database):
    migration.db_sync()
    values = {"token_hash": "b" * 64, "console_type": "novnc", "host": "h", "port": 1,
              "instance_uuid": str(uuid.uuid4()), "expires": time.time() + 60}
    db.console_token_create(values)
    with pytest.raises(sa.exc.IntegrityError):
        db.console_token_create(values)
    assert len(db.console_token_get_all()) == 1
