"""Alembic's environment for the history: run on the connection the caller hands over
(:func:`shared.history.engine.migrate`), inside its transaction and lock."""

from __future__ import annotations

from alembic import context

from shared.history.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table="history_alembic_version", render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
