"""Durable commits: an acknowledged webhook is fsynced before the 200 (see README, Security and reliability)."""

from __future__ import annotations

from sqlalchemy import text

from labelsieve.settings import Settings
from labelsieve.storage.db import make_engine


def test_every_connection_commits_durably_by_default(database_url) -> None:
    engine = make_engine(database_url, sqlite_synchronous=Settings(_env_file=None).sqlite_synchronous)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
                assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: WAL fsynced per commit
            else:
                assert connection.execute(text("SHOW synchronous_commit")).scalar() == "on"
    finally:
        engine.dispose()


def test_sqlite_normal_is_an_explicit_choice(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}", sqlite_synchronous="NORMAL")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1
    finally:
        engine.dispose()
