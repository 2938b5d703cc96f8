"""Schema migrations with Alembic: every table change ships a revision under ``storage/migrations/versions``.

``upgrade`` brings a database to the newest revision (``head``) on start: an empty database is
built by running every migration, a database made by labelsieve 0.1.0 (tables from ``create_all``, no
``alembic_version`` table) is recognised, stamped at the baseline revision and upgraded from there.
A database labelsieve cannot upgrade (one made by a newer labelsieve, or tables that are not
labelsieve 0.1.0's) is refused with a :class:`SchemaError` that says what to do.

New revision (after editing ``storage/models.py``): ``labelsieve db revision -m "what changed"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
#: the schema of labelsieve 0.1.0, the last release made with ``create_all``
BASELINE = "0001"
#: held (per transaction) while PostgreSQL is migrated, so two servers starting at once migrate once
_PG_LOCK = 7_114_514


class SchemaError(RuntimeError):
    """The database's schema is not one this labelsieve can use or upgrade; the message says what to do."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    found = scripts().get_current_head()
    assert found is not None, f"no migrations under {MIGRATIONS}"
    return found


def current(connection: Connection) -> str | None:
    """The database's revision; None for a database with no ``alembic_version`` table."""
    return MigrationContext.configure(connection).get_current_revision()


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _baseline_columns() -> dict[str, set[str]]:
    """Table -> column names of the baseline schema, read from the baseline migration run in memory."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as connection:
            command.upgrade(alembic_config(connection), BASELINE)
            found = inspect(connection)
            return {table: {c["name"] for c in found.get_columns(table)}
                    for table in found.get_table_names() if table != "alembic_version"}
    finally:
        scratch.dispose()


def _adopt_legacy(engine: Engine, connection: Connection, tables: set[str]) -> None:
    """Stamp a ``create_all`` database (labelsieve 0.1.0) at the baseline, after checking it is one."""
    found = inspect(connection)
    missing: list[str] = []
    for table, columns in _baseline_columns().items():
        if table not in tables:
            missing.append(table)
        else:
            missing += [f"{table}.{c}" for c in sorted(columns - {c["name"] for c in found.get_columns(table)})]
    if missing:
        raise SchemaError(
            f"the database at {_where(engine)} has tables but not labelsieve 0.1.0's schema (missing: "
            f"{', '.join(missing[:10])}); labelsieve upgrades only databases it made. "
            "Point LABELSIEVE_DATABASE_URL at a new database (or at a copy made by labelsieve 0.1.0)")
    command.stamp(alembic_config(connection), BASELINE)


def upgrade(engine: Engine, *, apply: bool = True) -> list[str]:
    """Bring the database to ``head``; the revisions applied (oldest first). With ``apply=False`` a
    database behind ``head`` is refused with instructions instead of being upgraded (an empty one is built)."""
    target = head()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        revision = current(connection)
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        if revision == target:
            return []
        known = {script.revision for script in scripts().walk_revisions()}
        if revision is not None and revision not in known:
            raise SchemaError(
                f"the database at {_where(engine)} is at schema revision {revision!r}, which this labelsieve "
                f"does not know (its newest is {target!r}): a newer labelsieve wrote it. Install that "
                "version again, or point LABELSIEVE_DATABASE_URL at another database")
        if not apply and (revision is not None or tables):  # an empty database is simply built
            raise SchemaError(
                f"the database at {_where(engine)} is at schema revision {revision or 'none (labelsieve 0.1.0)'}"
                f", this labelsieve needs {target!r}: back it up, then run `labelsieve db upgrade` "
                "(or set LABELSIEVE_MIGRATE_ON_START=true)")
        if revision is None and tables:
            _adopt_legacy(engine, connection, tables)
            revision = BASELINE
        pending = _between(revision, target)
        command.upgrade(alembic_config(connection), target)
    return pending


def _between(revision: str | None, target: str) -> list[str]:
    steps: list[Any] = list(scripts().iterate_revisions(target, revision or "base"))
    return [step.revision for step in reversed(steps)]


def new_revision(message: str) -> Path:
    """Write the next revision (``NNNN_<slug>.py`` under ``migrations/versions``) by comparing
    ``storage/models.py`` with a scratch database at ``head``; review it before committing."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
            number = f"{len(list(scripts().walk_revisions())) + 1:04d}"
            script = command.revision(alembic_config(connection), message=message, autogenerate=True,
                                      rev_id=number)
    finally:
        scratch.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)
