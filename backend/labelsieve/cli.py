"""The ``labelsieve`` command: serve, strategies (and loop, simulate, report as they land)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from labelsieve.api.app import create_app
from labelsieve.commands import audit, db, loop, prune, select, simulate
from labelsieve.registry import GROUPS, get_registry
from labelsieve.settings import Settings
from labelsieve.storage.migrate import SchemaError

app = typer.Typer(help="Active-learning ML backend for Label Studio.", no_args_is_help=True)
console = Console()


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default LABELSIEVE_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default LABELSIEVE_PORT or 9090)."),
    data_dir: Path = typer.Option(None, help="Where the SQLite database and models live (default ./data)."),
    log_level: str = typer.Option(None, help="Logging level."),
) -> None:
    """Run the ML backend that Label Studio connects to."""
    import uvicorn

    overrides = {k: v for k, v in {"host": host, "port": port, "data_dir": data_dir, "log_level": log_level}.items()
                 if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console.print(f"labelsieve serving on http://{settings.host}:{settings.port} "
                  f"(database {settings.db_url.split('@')[-1]})")
    console.print(f"project pages: {settings.base_url}/projects/page")
    try:
        served = create_app(settings)  # upgrades the database schema (or refuses an old one: SchemaError)
    except SchemaError as exc:
        console.print(f"[red]labelsieve cannot start: {exc}[/red]")
        raise typer.Exit(2) from exc
    uvicorn.run(served, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


@app.command()
def strategies(as_json: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table.")) -> None:
    """List installed query strategies with their package, version and parameters."""
    rows = get_registry("strategies").describe()
    if as_json:
        typer.echo(json.dumps([{k: r.get(k) for k in ("name", "package", "version", "params", "error")
                                if k in r} for r in rows], indent=2))
        return
    table = Table(title="labelsieve query strategies")
    for column in ("name", "package", "version", "category", "params"):
        table.add_column(column)
    for r in rows:
        params = r.get("error") or ", ".join(f"{k}={v!r}" for k, v in r.get("params", {}).items())
        table.add_row(r["name"], r["package"], r["version"], str(r.get("category", "")), params)
    console.print(table)


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="Print a JSON object instead of tables.")) -> None:
    """List every installed plugin of every kind; a plugin that fails to load is shown with its error."""
    described = {kind: get_registry(kind).describe() for kind in GROUPS}
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    for kind, rows in described.items():
        table = Table(title=f"{GROUPS[kind]}")
        for column in ("name", "package", "version", "params or error", "also claimed by"):
            table.add_column(column)
        for r in rows:
            params = r.get("error") or ", ".join(f"{k}={v!r}" for k, v in r.get("params", {}).items())
            table.add_row(r["name"], r["package"], r["version"], params, "; ".join(r.get("conflicts", [])))
        console.print(table)


# Further commands live in their own modules, each with ``register(app)``; add yours here (a plain import, so a
# missing module fails at import time instead of silently dropping its command).
def _register_commands() -> None:
    for module in (simulate, loop, select, db, prune, audit):
        module.register(app)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
