"""Services get a uuid (os-services and os-hypervisors ids from microversion 2.53) and
their driver (hypervisor_type); instance actions are recorded.

Revision ID: 0002_instance_actions
Revises: 0001_initial
"""
from alembic import op
from oslo_utils import uuidutils
import sqlalchemy as sa

revision = "0002_instance_actions"
down_revision = "0001_initial"


def upgrade():
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("uuid", sa.String(36)))
        batch.add_column(sa.Column("hypervisor_type", sa.String(255)))
    services = sa.table("services", sa.column("id", sa.Integer),
                        sa.column("uuid", sa.String(36)))
    connection = op.get_bind()
    for (service_id,) in connection.execute(sa.select(services.c.id)).fetchall():
        connection.execute(services.update().where(services.c.id == service_id)
                           .values(uuid=uuidutils.generate_uuid()))
    op.create_index("services_uuid_idx", "services", ["uuid"], unique=True)

    op.create_table(
        "instance_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("start_time", sa.Double, nullable=False),
        sa.Column("finish_time", sa.Double),
        sa.Column("message", sa.String(255)),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double),
    )
    op.create_index("instance_actions_instance_uuid_idx", "instance_actions",
                    ["instance_uuid"])
    op.create_index("instance_actions_request_id_idx", "instance_actions", ["request_id"])
