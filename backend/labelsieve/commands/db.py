"""``labelsieve db``: the database schema (Alembic migrations) — where it stands, upgrade it, add a revision."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from labelsieve.settings import Settings
from labelsieve.storage import migrate
from labelsieve.storage.db import normalise_url

db_app = typer.Typer(help="The database schema: `current`, `upgrade` (run on start by default), `revision`.",
                     no_args_is_help=True)
console = Console()


@contextmanager
def _engine() -> Iterator[Engine]:
    """An engine on the configured database (LABELSIEVE_DATABASE_URL, or the SQLite file under the data dir)."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(normalise_url(settings.db_url))
    try:
        yield engine
    finally:
        engine.dispose()


@db_app.command()
def current() -> None:
    """Print the database's schema revision and the newest one this labelsieve has."""
    with _engine() as engine, engine.connect() as connection:
        revision = migrate.current(connection)
    head = migrate.head()
    state = "up to date" if revision == head else "behind: run `labelsieve db upgrade`"
    console.print(f"database {engine.url.render_as_string(hide_password=True)}: revision "
                  f"{revision or 'none'} (newest {head}, {state})")


@db_app.command()
def upgrade() -> None:
    """Upgrade the database (LABELSIEVE_DATABASE_URL, or the SQLite file under the data dir) to the newest schema."""
    with _engine() as engine:
        try:
            applied = migrate.upgrade(engine)
        except migrate.SchemaError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
    console.print(f"applied {', '.join(applied)}" if applied else "already at the newest revision")
    console.print(f"database at revision {migrate.head()}")


@db_app.command()
def revision(message: str = typer.Option(..., "--message", "-m", help="What the change does.")) -> None:
    """Write a new migration from the difference between storage/models.py and the newest revision."""
    path = migrate.new_revision(message)
    console.print(f"wrote {path}: review it, then commit it with the models.py change")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
