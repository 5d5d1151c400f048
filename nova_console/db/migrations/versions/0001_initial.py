"""Initial schema: console tokens, instances, services.

Revision ID: 0001_initial
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001_initial"
down_revision = None


def upgrade():
    op.create_table(
        "console_auth_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("console_type", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("tls_port", sa.Integer),
        sa.Column("internal_access_path", sa.String(255)),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("access_url_base", sa.Text),
        sa.Column("expires", sa.Double, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double),
        sa.Column("last_activity_at", sa.Double),
        sa.UniqueConstraint("token_hash", name="uniq_console_auth_tokens0token_hash"),
    )
    op.create_index("console_auth_tokens_instance_uuid_idx", "console_auth_tokens",
                    ["instance_uuid"])
    op.create_index("console_auth_tokens_host_expires_idx", "console_auth_tokens",
                    ["host", "expires"])
    op.create_index("console_auth_tokens_expires_idx", "console_auth_tokens", ["expires"])

    op.create_table(
        "instances",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("image_ref", sa.String(255)),
        sa.Column("flavor_ref", sa.String(255)),
        sa.Column("host", sa.String(255)),
        sa.Column("vm_state", sa.String(255), nullable=False),
        sa.Column("task_state", sa.String(255)),
        sa.Column("power_state", sa.Integer, nullable=False),
        sa.Column("fault", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double),
        sa.Column("deleted_at", sa.Double),
        sa.Column("deleted", sa.Integer, nullable=False),
        sa.UniqueConstraint("uuid", name="uniq_instances0uuid"),
    )
    op.create_index("instances_project_id_deleted_idx", "instances", ["project_id", "deleted"])
    op.create_index("instances_host_deleted_idx", "instances", ["host", "deleted"])

    op.create_table(
        "services",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_seen_up", sa.Double, nullable=False),
        sa.UniqueConstraint("host", "binary", name="uniq_services0host0binary"),
    )
