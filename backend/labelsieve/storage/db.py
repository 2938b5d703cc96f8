"""Engine creation for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from labelsieve.storage import migrate


def normalise_url(url: str) -> str:
    # psycopg 3 is the driver we ship; accept the common spellings.
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, migrate_schema: bool = True, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine for ``url`` whose schema is at the newest migration (upgraded here unless
    ``migrate_schema`` is false, then an old schema raises :class:`labelsieve.storage.migrate.SchemaError`).

    SQLite gets WAL, a busy timeout and ``synchronous=FULL`` by default: every commit (an acknowledged
    webhook's included) is fsynced to the WAL before it returns, so it survives a power loss, not only a
    crash. PostgreSQL keeps its own default (``synchronous_commit=on``: same guarantee); nothing here lowers it.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if sqlite_synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"sqlite_synchronous must be FULL or NORMAL, not {sqlite_synchronous!r}")
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    try:
        migrate.upgrade(engine, apply=migrate_schema)
    except BaseException:
        engine.dispose()
        raise
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
