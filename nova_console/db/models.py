"""Tables of the API and consoleauth services (one database, see [database] connection)."""
from sqlalchemy import (BigInteger, Column, Double, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class ConsoleAuthToken(Base):
    """A console token. Only its sha256 is kept: a database dump opens no console."""

    __tablename__ = "console_auth_tokens"
    __table_args__ = (
        Index("console_auth_tokens_instance_uuid_idx", "instance_uuid"),
        Index("console_auth_tokens_host_expires_idx", "host", "expires"),
        Index("console_auth_tokens_expires_idx", "expires"),
    )

    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                autoincrement=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    console_type = Column(String(255), nullable=False)
    host = Column(String(255), nullable=False)
    port = Column(Integer, nullable=False)
    tls_port = Column(Integer)
    internal_access_path = Column(String(255))
    instance_uuid = Column(String(36), nullable=False)
    access_url_base = Column(Text)
    # Unix times in seconds (double precision: TTLs can be short).
    expires = Column(Double, nullable=False)
    created_at = Column(Double, nullable=False)
    updated_at = Column(Double)
    last_activity_at = Column(Double)


class Instance(Base):
    """A server as the API knows it. Deleted rows stay (deleted != 0) for auditing."""

    __tablename__ = "instances"
    __table_args__ = (
        Index("instances_project_id_deleted_idx", "project_id", "deleted"),
        Index("instances_host_deleted_idx", "host", "deleted"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    uuid = Column(String(36), nullable=False, unique=True)
    name = Column(String(255), nullable=False)
    project_id = Column(String(255), nullable=False)
    user_id = Column(String(255), nullable=False)
    image_ref = Column(String(255))
    flavor_ref = Column(String(255))
    host = Column(String(255))
    vm_state = Column(String(255), nullable=False)
    task_state = Column(String(255))
    power_state = Column(Integer, nullable=False, default=0)
    fault = Column(Text)
    created_at = Column(Double, nullable=False)
    updated_at = Column(Double)
    deleted_at = Column(Double)
    deleted = Column(Integer, nullable=False, default=0)


class Service(Base):
    """A running service (compute host, consoleauth worker) and its last heartbeat;
    a compute host's also says which driver it runs (its hypervisor_type)."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("host", "binary", name="uniq_services0host0binary"),
                      Index("services_uuid_idx", "uuid", unique=True))

    id = Column(Integer, primary_key=True, autoincrement=True)
    uuid = Column(String(36))
    host = Column(String(255), nullable=False)
    binary = Column(String(255), nullable=False)
    topic = Column(String(255), nullable=False)
    disabled = Column(Integer, nullable=False, default=0)
    hypervisor_type = Column(String(255))
    created_at = Column(Double, nullable=False)
    last_seen_up = Column(Double, nullable=False)


class InstanceAction(Base):
    """A request that acted on a server (create, delete, reboot), for
    /servers/{id}/os-instance-actions. Kept after the server is deleted."""

    __tablename__ = "instance_actions"
    __table_args__ = (
        Index("instance_actions_instance_uuid_idx", "instance_uuid"),
        Index("instance_actions_request_id_idx", "request_id"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    action = Column(String(255), nullable=False)
    instance_uuid = Column(String(36), nullable=False)
    request_id = Column(String(255), nullable=False)
    user_id = Column(String(255), nullable=False)
    project_id = Column(String(255), nullable=False)
    start_time = Column(Double, nullable=False)
    finish_time = Column(Double)
    message = Column(String(255))
    created_at = Column(Double, nullable=False)
    updated_at = Column(Double)
