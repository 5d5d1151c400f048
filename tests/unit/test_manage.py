"""nova-console-manage: db sync/version/purge, console tokens list/revoke, clear failures.

nova_console.cmd patches the process for eventlet when imported, so the command runs
as a child process (the real console script); the test prepares and inspects the
database in this process through nova_console.db.api.
"""
import os
import subprocess
import sys
import time

import pytest

from nova_console.db import api as db
from nova_console.db import migration
from nova_console.db import models
from nova_console import utils

MANAGE = os.path.join(os.path.dirname(sys.executable), "nova-console-manage")
DAY = 86400.0
LIVE, GONE, OLD = ("11111111-1111-4111-8111-%012d" % n for n in range(3))


def run_script(path, *args, timeout=120):
    """Run a console script; its CompletedProcess (text)."""
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, status, *fragments):
    """The script failed as an operator expects: that exit status, exactly one line on
    stderr naming every fragment, no traceback anywhere."""
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def write_config(tmp_path, state_path, connection=None, **default_options):
    """tmp_path/nova_console.conf with that state_path, [database] connection if given,
    and other [DEFAULT] options; its path."""
    lines = ["[DEFAULT]", "state_path = %s" % state_path]
    lines += ["%s = %s" % option for option in sorted(default_options.items())]
    if connection:
        lines += ["[database]", "connection = %s" % connection]
    path = tmp_path / "nova_console.conf"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def manage(tmp_path, database):
    """nova-console-manage on the `database` fixture's (synced) SQLite file."""
    config_file = write_config(tmp_path, tmp_path, "sqlite:///%s" % (
        tmp_path / "nova_console.sqlite"))
    return lambda *args: run_script(MANAGE, "--config-file", config_file, *args)


@pytest.fixture
def empty_manage(tmp_path):
    """nova-console-manage on a database never synced."""
    state = tmp_path / "state"
    state.mkdir()
    return lambda *args: run_script(MANAGE, "--config-file", write_config(tmp_path, state),
                                    *args)


def make_instance(uuid, deleted_at=None):
    db.instance_create({"uuid": uuid, "name": "vm-" + uuid[-2:], "project_id": "p",
                        "user_id": "u", "vm_state": "active", "host": "cmp1"})
    if deleted_at is not None:
        db.instance_destroy(uuid)  # stamps deleted_at with now: backdate it
        with db.get_engine().begin() as connection:
            table = models.Instance.__table__
            connection.execute(table.update().where(table.c.uuid == uuid)
                               .values(deleted_at=deleted_at))


def make_token(instance_uuid, expires, port=5900):
    """A stored token of the instance; the clear token, which only the test knows."""
    token = utils.generate_token()
    db.console_token_create({"token_hash": utils.hash_token(token), "console_type": "novnc",
                             "host": "10.0.0.5", "port": port,
                             "instance_uuid": instance_uuid, "expires": expires})
    return token


def token_instances():
    with db.get_engine().connect() as connection:
        table = models.ConsoleAuthToken.__table__
        return sorted(row.instance_uuid for row in connection.execute(table.select()))


def instance_uuids():
    return sorted(row["uuid"] for row in (db.instance_get_by_uuid(u, read_deleted=True)
                                          for u in (LIVE, GONE, OLD)) if row)


# --- db sync / version -----------------------------------------------------------------

def test_db_sync_creates_a_missing_state_directory_and_reaches_head(tmp_path):
    state = tmp_path / "does" / "not" / "exist"
    config_file = write_config(tmp_path, state)
    result = run_script(MANAGE, "--config-file", config_file, "db", "sync")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Database is at revision %s" % migration.head_version()
    assert (state / "nova_console.sqlite").is_file()
    assert oct(state.stat().st_mode & 0o777) == oct(0o750)
    version = run_script(MANAGE, "--config-file", config_file, "db", "version")
    assert version.stdout.strip() == migration.head_version()


def test_db_version_of_a_database_never_synced_says_so(empty_manage):
    result = empty_manage("db", "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none (run 'nova-console-manage db sync')"


# --- db purge ------------------------------------------------------------------------

def test_db_purge_removes_instances_deleted_before_the_date_with_their_rows(manage):
    now = time.time()
    make_instance(LIVE)
    make_instance(GONE, deleted_at=now - 1 * DAY)
    make_instance(OLD, deleted_at=now - 10 * DAY)
    make_token(LIVE, expires=now + 600)
    make_token(OLD, expires=now + 600)  # a purged instance's token goes with it
    db.instance_action_create({"action": "delete", "instance_uuid": OLD, "request_id": "r1",
                               "user_id": "u", "project_id": "p"})
    db.instance_action_create({"action": "delete", "instance_uuid": GONE,
                               "request_id": "r2", "user_id": "u", "project_id": "p"})
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5 * DAY))

    result = manage("db", "purge", "--before", before)

    assert result.returncode == 0, result.stderr
    assert instance_uuids() == [LIVE, GONE]
    assert token_instances() == [LIVE]
    assert [a["request_id"] for a in db.instance_actions_get(OLD)] == []
    assert [a["request_id"] for a in db.instance_actions_get(GONE)] == ["r2"]
    lines = result.stdout.splitlines()
    assert "instances: 1 rows purged" in lines
    assert "console_auth_tokens: 1 rows purged" in lines
    assert "instance_actions: 1 rows purged" in lines
    assert lines[-1] == "Purged 3 rows deleted or expired before %s" % before


def test_db_purge_removes_expired_tokens_but_never_a_valid_one_whatever_the_date(manage):
    now = time.time()
    make_instance(LIVE)
    make_token(LIVE, expires=now - 2 * DAY, port=5901)
    make_token(LIVE, expires=now - 30, port=5902)
    valid = make_token(LIVE, expires=now + 600, port=5903)

    result = manage("db", "purge", "--before", "2999-01-01")

    assert result.returncode == 0, result.stderr
    assert "console_auth_tokens: 2 rows purged" in result.stdout.splitlines()
    assert db.console_token_get_valid(utils.hash_token(valid)) is not None
    assert instance_uuids() == [LIVE]


def test_db_purge_keeps_tokens_that_expired_after_the_date(manage):
    now = time.time()
    make_instance(LIVE)
    make_token(LIVE, expires=now - 10 * DAY)
    make_token(LIVE, expires=now - 1 * DAY)
    before = time.strftime("%Y-%m-%d", time.gmtime(now - 5 * DAY))

    result = manage("db", "purge", "--before", before)

    assert "console_auth_tokens: 1 rows purged" in result.stdout.splitlines()
    assert token_instances() == [LIVE]


@pytest.mark.parametrize("given, shown", [
    ("2025-01-31", "2025-01-31T00:00:00Z"),
    ("2025-01-31T12:00:00+02:00", "2025-01-31T10:00:00Z"),
    ("2025-01-31 12:30", "2025-01-31T12:30:00Z"),
])
def test_db_purge_reads_iso_dates_as_utc_unless_they_name_an_offset(manage, given, shown):
    result = manage("db", "purge", "--before", given)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "Purged 0 rows deleted or expired before %s" % shown)


@pytest.mark.parametrize("date", ["yesterday", "2025-13-01", "31/01/2025", ""])
def test_db_purge_refuses_a_date_it_cannot_read_with_one_line_and_status_2(manage, date):
    make_instance(OLD, deleted_at=time.time() - 10 * DAY)
    result = manage("db", "purge", "--before", date)
    assert_one_line_error(result, 2, "Invalid --before date", "ISO 8601")
    assert instance_uuids() == [OLD]


def test_db_purge_without_a_date_is_a_usage_error(manage):
    result = manage("db", "purge")
    assert result.returncode == 2
    assert "--before" in result.stderr
    assert "Traceback" not in result.stderr


# --- console tokens -------------------------------------------------------------------

def test_tokens_list_shows_each_valid_token_by_hash_prefix_never_the_token(manage):
    now = time.time()
    make_instance(LIVE)
    make_instance(GONE)
    live_token = make_token(LIVE, expires=now + 600, port=5901)
    gone_token = make_token(GONE, expires=now + 600, port=5902)
    expired_token = make_token(LIVE, expires=now - 1, port=5903)

    result = manage("console", "tokens", "list")

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["instance_uuid", "console_type", "host:port", "expires",
                              "token_sha256"]
    assert [row.split()[:3] for row in rows] == [[LIVE, "novnc", "10.0.0.5:5901"],
                                                 [GONE, "novnc", "10.0.0.5:5902"]]
    assert rows[0].split()[4] == "sha256:" + utils.hash_token(live_token)[:12]
    assert rows[0].split()[3] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime(int(now + 600)))
    output = result.stdout + result.stderr
    for token in (live_token, gone_token, expired_token):
        assert token not in output
        assert utils.hash_token(token) not in output  # the prefix only


def test_tokens_list_of_one_instance_shows_only_its_tokens(manage):
    make_instance(LIVE)
    make_instance(GONE)
    make_token(LIVE, expires=time.time() + 600)
    make_token(GONE, expires=time.time() + 600)
    result = manage("console", "tokens", "list", "--instance", GONE)
    assert [row.split()[0] for row in result.stdout.splitlines()[1:]] == [GONE]


def test_tokens_revoke_of_an_instance_removes_only_its_tokens_and_says_how_many(manage):
    make_instance(LIVE)
    make_instance(GONE)
    make_token(LIVE, expires=time.time() + 600)
    make_token(GONE, expires=time.time() + 600, port=5901)
    make_token(GONE, expires=time.time() + 600, port=5902)
    result = manage("console", "tokens", "revoke", "--instance", GONE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Revoked 2 console tokens of instance %s" % GONE
    assert token_instances() == [LIVE]


def test_tokens_revoke_of_an_instance_named_in_upper_case_revokes_its_tokens(manage):
    lettered = "abcdef12-3456-4789-8abc-def012345678"
    make_instance(lettered)
    make_token(lettered, expires=time.time() + 600)
    result = manage("console", "tokens", "revoke", "--instance", lettered.upper())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Revoked 1 console tokens of instance %s" % lettered
    assert token_instances() == []


def test_tokens_revoke_all_expired_keeps_the_valid_ones(manage):
    make_instance(LIVE)
    make_token(LIVE, expires=time.time() - 5)
    valid = make_token(LIVE, expires=time.time() + 600, port=5901)
    result = manage("console", "tokens", "revoke", "--all-expired")
    assert result.stdout.strip() == "Revoked 1 expired console tokens"
    assert db.console_token_get_all() == [db.console_token_get_valid(utils.hash_token(valid))]


def test_tokens_revoke_without_a_target_is_refused_with_one_line(manage):
    make_instance(LIVE)
    make_token(LIVE, expires=time.time() - 5)
    result = manage("console", "tokens", "revoke")
    assert_one_line_error(result, 2, "--instance", "--all-expired")
    assert token_instances() == [LIVE]


@pytest.mark.parametrize("command", [("console", "tokens", "list"),
                                     ("console", "tokens", "revoke")])
def test_tokens_commands_refuse_an_instance_that_is_no_uuid(manage, command):
    make_instance(LIVE)
    make_token(LIVE, expires=time.time() + 600)
    result = manage(*command, "--instance", "vm-1")
    assert_one_line_error(result, 2, "Invalid --instance 'vm-1': not a UUID")
    assert token_instances() == [LIVE]


# --- failures an operator meets ------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ("console", "tokens", "list"),
    ("console", "tokens", "revoke", "--all-expired"),
    ("console", "tokens", "revoke", "--instance", LIVE),
    ("db", "purge", "--before", "2025-01-01"),
])
def test_commands_on_a_database_never_synced_fail_with_one_line(empty_manage, command):
    result = empty_manage(*command)
    assert_one_line_error(result, 1, "revision none", "nova-console-manage db sync")


def test_a_database_that_cannot_be_opened_is_one_line_without_its_password(tmp_path):
    # Nothing listens on port 9 of localhost: the connection is refused at once.
    config_file = write_config(tmp_path, tmp_path,
                               "postgresql+psycopg://nova:hunter2@127.0.0.1:9/nova_console")
    result = run_script(MANAGE, "--config-file", config_file, "console", "tokens", "list")
    assert_one_line_error(result, 1, "Cannot use the database",
                          "postgresql+psycopg://nova:***@127.0.0.1:9/nova_console")
    assert "hunter2" not in result.stdout + result.stderr


def test_a_database_url_that_is_not_one_is_one_line_without_its_password(tmp_path):
    config_file = write_config(tmp_path, tmp_path, "nosuchdb://nova:hunter2@db/nova_console")
    result = run_script(MANAGE, "--config-file", config_file, "db", "sync")
    assert_one_line_error(result, 1, "[database] connection cannot be used")
    assert "hunter2" not in result.stdout + result.stderr


def test_a_missing_config_file_is_one_line_and_status_2(tmp_path):
    result = run_script(MANAGE, "--config-file", str(tmp_path / "nope.conf"), "db", "sync")
    assert_one_line_error(result, 2, "nova-console-manage: error:", "nope.conf")
    assert not (tmp_path / "nova_console.sqlite").exists()
