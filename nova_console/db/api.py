"""The only module that talks SQL. Functions take and return plain dicts."""
import contextlib
import threading
import time
import uuid as uuid_module

import sqlalchemy as sa
from sqlalchemy import event, orm
from oslo_log import log as logging

from nova_console import conf as nc_conf
from nova_console.db import models
from nova_console.compute import vm_states

CONF = nc_conf.CONF
LOG = logging.getLogger(__name__)

_ENGINE = None
_SESSIONMAKER = None
_LOCK = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets readers in other processes go on while one writes. In WAL mode,
    # synchronous=NORMAL syncs at checkpoints instead of at every commit: the
    # database stays consistent, and a power cut may lose the last commits
    # (seconds of console tokens), which a file database for one host accepts.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_engine(url):
    url = sa.engine.make_url(url)
    if url.get_backend_name() == "sqlite":
        # Connections are pooled: opening one (and its PRAGMAs) cost more than the
        # query itself. A connection is used by one thread at a time, never shared.
        pool_args = {}
        if url.database and url.database != ":memory:":
            pool_args = {"poolclass": sa.pool.QueuePool,
                         "pool_size": CONF.database.max_pool_size,
                         "max_overflow": CONF.database.max_overflow,
                         "pool_timeout": CONF.database.pool_timeout}
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  **pool_args)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=CONF.database.max_pool_size,
                            max_overflow=CONF.database.max_overflow,
                            pool_timeout=CONF.database.pool_timeout)


def get_engine():
    global _ENGINE, _SESSIONMAKER
    with _LOCK:
        if _ENGINE is None:
            _ENGINE = create_engine(CONF.database.connection)
            _SESSIONMAKER = orm.sessionmaker(bind=_ENGINE, expire_on_commit=False)
        return _ENGINE


def dispose_engine():
    global _ENGINE, _SESSIONMAKER
    with _LOCK:
        if _ENGINE is not None:
            _ENGINE.dispose()
        _ENGINE = _SESSIONMAKER = None


@contextlib.contextmanager
def _session():
    """A transaction: committed on success, rolled back on any error."""
    get_engine()
    with _SESSIONMAKER() as session, session.begin():
        yield session


def _as_dict(row):
    if row is None:
        return None
    return {column.name: getattr(row, column.name) for column in row.__table__.columns}


# --- console tokens -----------------------------------------------------------------

def console_token_create(values):
    now = time.time()
    row = models.ConsoleAuthToken(created_at=now, updated_at=now, **values)
    with _session() as session:
        session.add(row)
    return _as_dict(row)


def console_token_get_valid(token_hash, now=None):
    """The unexpired token with this hash, or None."""
    now = time.time() if now is None else now
    query = sa.select(models.ConsoleAuthToken).where(
        models.ConsoleAuthToken.token_hash == token_hash,
        models.ConsoleAuthToken.expires > now)
    with _session() as session:
        return _as_dict(session.scalars(query).first())


def _tokens_with_host_statement():
    """SELECT token columns + the live instance's host WHERE hash IN :token_hashes AND
    expires > :now. Built once: check_token runs it on every console connection, and
    building and cache-keying a fresh statement cost more than running it."""
    token, instance = models.ConsoleAuthToken.__table__, models.Instance.__table__
    return (sa.select(*token.columns, instance.c.host.label("instance_host"))
            .select_from(token.outerjoin(instance, sa.and_(
                instance.c.uuid == token.c.instance_uuid, instance.c.deleted == 0)))
            .where(token.c.token_hash.in_(sa.bindparam("token_hashes", expanding=True)),
                   token.c.expires > sa.bindparam("now")))


_TOKENS_WITH_HOST = _tokens_with_host_statement()


def console_tokens_get_valid_with_host(token_hashes, now=None):
    """{hash: row} for the unexpired tokens among token_hashes, each row with
    'instance_host': the host of its live instance (None when the instance is
    deleted or unknown); one query for all of them."""
    token_hashes = list(set(token_hashes))
    if not token_hashes:
        return {}
    now = time.time() if now is None else now
    with get_engine().connect() as connection:
        found = connection.execute(_TOKENS_WITH_HOST,
                                   {"token_hashes": token_hashes, "now": now})
        return {row.token_hash: row._asdict() for row in found}


def console_token_delete(token_hash):
    query = sa.delete(models.ConsoleAuthToken).where(
        models.ConsoleAuthToken.token_hash == token_hash)
    with _session() as session:
        return session.execute(query).rowcount


def console_token_get_all(instance_uuid=None, host=None, now=None):
    """Unexpired tokens of an instance and/or of a compute host."""
    now = time.time() if now is None else now
    query = sa.select(models.ConsoleAuthToken).where(models.ConsoleAuthToken.expires > now)
    if instance_uuid is not None:
        query = query.where(models.ConsoleAuthToken.instance_uuid == instance_uuid)
    if host is not None:
        query = query.where(models.ConsoleAuthToken.host == host)
    with _session() as session:
        rows = session.scalars(query.order_by(models.ConsoleAuthToken.id))
        return [_as_dict(row) for row in rows]


def console_token_delete_for_instance(instance_uuid):
    query = sa.delete(models.ConsoleAuthToken).where(
        models.ConsoleAuthToken.instance_uuid == instance_uuid)
    with _session() as session:
        return session.execute(query).rowcount


def console_token_purge_expired(now=None):
    now = time.time() if now is None else now
    query = sa.delete(models.ConsoleAuthToken).where(models.ConsoleAuthToken.expires <= now)
    with _session() as session:
        return session.execute(query).rowcount


# --- instances ----------------------------------------------------------------------

def instance_create(values):
    now = time.time()
    row = models.Instance(created_at=now, updated_at=now, deleted=0, **values)
    with _session() as session:
        session.add(row)
    return _as_dict(row)


def instance_get_by_uuid(uuid, read_deleted=False):
    query = sa.select(models.Instance).where(models.Instance.uuid == uuid)
    if not read_deleted:
        query = query.where(models.Instance.deleted == 0)
    with _session() as session:
        return _as_dict(session.scalars(query).first())


def instance_get_all(project_id=None, name=None, host=None):
    """Live instances, oldest first; name is an exact match."""
    query = sa.select(models.Instance).where(models.Instance.deleted == 0)
    if project_id is not None:
        query = query.where(models.Instance.project_id == project_id)
    if name is not None:
        query = query.where(models.Instance.name == name)
    if host is not None:
        query = query.where(models.Instance.host == host)
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query.order_by(models.Instance.id))]


def instance_update(uuid, values, expected_task_state=()):
    """Update a live instance; with expected_task_state, only if its task_state is one of
    those (compare-and-swap, so two racing requests cannot both start an action).
    Returns the updated instance, or None if it is gone or in another task state."""
    query = sa.update(models.Instance).where(models.Instance.uuid == uuid,
                                             models.Instance.deleted == 0)
    if expected_task_state != ():
        states = list(expected_task_state)
        condition = models.Instance.task_state.in_([s for s in states if s is not None])
        if None in states:
            condition = sa.or_(condition, models.Instance.task_state.is_(None))
        query = query.where(condition)
    with _session() as session:
        if session.execute(query.values(updated_at=time.time(), **values)).rowcount == 0:
            return None
    return instance_get_by_uuid(uuid)


def instance_destroy(uuid):
    """Soft-delete: the row stays, marked deleted, and disappears from listings."""
    now = time.time()
    query = sa.update(models.Instance).where(
        models.Instance.uuid == uuid, models.Instance.deleted == 0).values(
        deleted=models.Instance.id, deleted_at=now, updated_at=now,
        vm_state=vm_states.DELETED, task_state=None)
    with _session() as session:
        return session.execute(query).rowcount > 0


# --- services -----------------------------------------------------------------------

def service_heartbeat(host, binary, topic, hypervisor_type=None):
    """Record that a service is alive, creating its row (with a uuid) on the first
    beat; `hypervisor_type`, when given, is stored too (a compute host's driver)."""
    now = time.time()
    table = models.Service
    values = {"last_seen_up": now, "topic": topic}
    if hypervisor_type is not None:
        values["hypervisor_type"] = hypervisor_type
    with _session() as session:
        updated = session.execute(
            sa.update(table).where(table.host == host, table.binary == binary)
            .values(**values)).rowcount
        if not updated:
            session.add(table(host=host, binary=binary, disabled=0, created_at=now,
                              uuid=str(uuid_module.uuid4()), **values))


def service_get_all(binary=None, host=None):
    """Services, first registered first; binary and host are exact matches."""
    query = sa.select(models.Service).order_by(models.Service.id)
    if binary is not None:
        query = query.where(models.Service.binary == binary)
    if host is not None:
        query = query.where(models.Service.host == host)
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]


# --- instance actions ---------------------------------------------------------------

def instance_action_create(values):
    now = time.time()
    row = models.InstanceAction(start_time=now, created_at=now, updated_at=now, **values)
    with _session() as session:
        session.add(row)
    return _as_dict(row)


def instance_actions_get(instance_uuid):
    """The actions of an instance (deleted or not), newest first, as Nova lists them."""
    table = models.InstanceAction
    query = (sa.select(table).where(table.instance_uuid == instance_uuid)
             .order_by(table.start_time.desc(), table.id.desc()))
    with _session() as session:
        return [_as_dict(row) for row in session.scalars(query)]


def instance_action_get_by_request_id(instance_uuid, request_id):
    """The action of `instance_uuid` that request `request_id` started, or None."""
    table = models.InstanceAction
    query = sa.select(table).where(table.instance_uuid == instance_uuid,
                                   table.request_id == request_id).order_by(table.id.desc())
    with _session() as session:
        return _as_dict(session.scalars(query).first())


# --- purge (nova-console-manage db purge) -------------------------------------------

def _instance_dependent_tables():
    """Every table whose rows belong to an instance (an instance_uuid column: console
    tokens, instance actions, ...), children before the tables they refer to."""
    instances = models.Instance.__table__
    return [table for table in reversed(models.Base.metadata.sorted_tables)
            if table is not instances and "instance_uuid" in table.c]


def instance_purge_deleted(before):
    """Remove for good the instances soft-deleted before `before` (a Unix time) and the
    rows of every table that belongs to them, in one transaction.
    Returns {table name: rows removed}."""
    instances = models.Instance.__table__
    doomed = (instances.c.deleted != 0, instances.c.deleted_at < before)
    counts = {}
    with _session() as session:
        for table in _instance_dependent_tables():
            uuids = sa.select(instances.c.uuid).where(*doomed)
            counts[table.name] = session.execute(
                sa.delete(table).where(table.c.instance_uuid.in_(uuids))).rowcount
        # A condition on the table itself, not a subquery of it: MySQL refuses those.
        counts[instances.name] = session.execute(sa.delete(instances).where(*doomed)).rowcount
    return counts
