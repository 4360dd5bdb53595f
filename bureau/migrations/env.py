"""Alembic's environment for the bureau: the connection comes from `bureau.migrations` (no alembic.ini, no URL here),
the target is the bureau's SQLModel metadata, and changes are rendered as batch operations so that SQLite, which
cannot alter most of a table in place, gets them as a table copy."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from bureau import models  # noqa: F401  (registers the tables)

context.configure(connection=context.config.attributes["connection"], target_metadata=SQLModel.metadata,
                  render_as_batch=True, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
