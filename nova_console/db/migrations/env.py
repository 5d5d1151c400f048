"""Alembic environment: runs on the connection handed over by nova_console.db.migration."""
from alembic import context

from nova_console.db import models

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=models.Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
