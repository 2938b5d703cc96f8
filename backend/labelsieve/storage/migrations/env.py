"""Alembic environment of labelsieve's schema: run programmatically by :mod:`labelsieve.storage.migrate`,
which passes an open connection in ``config.attributes["connection"]`` (there is no alembic.ini)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from labelsieve.storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)


def render_item(kind: str, obj: Any, _context: Any) -> str | bool:
    """Write SQLModel's column types as the plain SQLAlchemy types they stand for (migrations stay
    readable and independent of sqlmodel's internals)."""
    if kind == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("labelsieve's migrations run through `labelsieve db upgrade` (or on start), "
                       "not the bare `alembic` command")
# batch mode: ALTERs on SQLite are done by copying the table, the same operations work on PostgreSQL
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True,
                  compare_type=True, render_item=render_item)
with context.begin_transaction():
    context.run_migrations()
