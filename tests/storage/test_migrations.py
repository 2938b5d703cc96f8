"""Alembic migrations: storage/models.py and the newest revision agree, and old or foreign schemas are
handled the way the README says (upgraded on start, or refused with what to do)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from labelsieve.storage import migrate
from labelsieve.storage.db import make_engine, normalise_url


def _raw(database_url: str):
    return create_engine(normalise_url(database_url))


def test_models_and_the_newest_migration_agree(database_url) -> None:
    """Fails when a table change in storage/models.py ships without its migration
    (fix: `labelsieve db revision -m "what changed"`, review, commit)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            assert migrate.current(connection) == migrate.head()
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_a_create_all_database_is_stamped_at_the_baseline_and_upgraded(database_url) -> None:
    raw = _raw(database_url)
    with raw.begin() as connection:  # what labelsieve 0.1.0 left: its tables, no alembic_version
        command.upgrade(migrate.alembic_config(connection), migrate.BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("INSERT INTO project (id, title, label_config, model_version, settings, ls_hostname, "
                                "ls_access_token, annotations_since_train, created_at, updated_at) VALUES "
                                "(7, 't', '', '', '{}', '', '', 0, '2026-01-01', '2026-01-01')"))
    raw.dispose()
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            assert migrate.current(connection) == migrate.head()
            assert connection.execute(text("SELECT title FROM project WHERE id = 7")).scalar() == "t"
    finally:
        engine.dispose()


def test_an_old_schema_is_refused_with_how_to_upgrade_when_migrating_on_start_is_off(database_url) -> None:
    raw = _raw(database_url)
    with raw.begin() as connection:
        command.upgrade(migrate.alembic_config(connection), migrate.BASELINE)
        connection.execute(text("DROP TABLE alembic_version"))
    raw.dispose()
    with pytest.raises(migrate.SchemaError, match="labelsieve db upgrade"):
        make_engine(database_url, migrate_schema=False)
    make_engine(database_url).dispose()  # the default upgrades it
    make_engine(database_url, migrate_schema=False).dispose()  # and now it is current


def test_a_database_from_a_newer_labelsieve_or_a_foreign_schema_is_refused(database_url) -> None:
    make_engine(database_url).dispose()
    raw = _raw(database_url)
    with raw.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(migrate.SchemaError, match="'9999', which this labelsieve does not know"):
        make_engine(database_url)
    with raw.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DROP TABLE prediction"))
    raw.dispose()
    with pytest.raises(migrate.SchemaError, match=r"not labelsieve 0\.1\.0's schema \(missing: prediction\)"):
        make_engine(database_url)


def test_an_empty_database_is_built_by_the_migrations(database_url) -> None:
    engine = make_engine(database_url, migrate_schema=False)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
