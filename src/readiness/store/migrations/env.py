"""Alembic environment: migrations run on the connection (and inside the transaction) ``engine.upgrade`` opens."""

from __future__ import annotations

from alembic import context

from readiness.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through readiness.store.engine.upgrade (it holds the migration lock)")
context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
