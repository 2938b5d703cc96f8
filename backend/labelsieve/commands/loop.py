"""``labelsieve loop``: keep a Label Studio project ranked without webhooks (headless live loop).

Every ``--interval`` seconds: export the project's tasks and annotations from Label Studio, store
them (deleted annotations leave the training set), retrain when the annotations changed, and push
the new ranking (predictions + project ``model_version``). Works when Label Studio cannot reach the
backend (firewalls, Docker networks): only labelsieve → Label Studio traffic is needed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from labelsieve.commands.pages_server import PagesServer
from labelsieve.labelstudio.client import LabelStudioError
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.publisher import LabelStudioPublisher
from labelsieve.service.container import Service, build_service
from labelsieve.service.events import _pull
from labelsieve.settings import Settings
from labelsieve.storage.db import session_scope


@dataclass
class RoundSummary:
    changed: bool
    n_tasks: int
    n_annotations: int
    status: str
    version: str | None
    pushed: int
    seconds: float


class LiveLoop:
    """One Label Studio project kept in sync by polling; ``sync_once`` is one round.

    Label Studio is reached through the service's gateway (its URL and key are the service settings)."""

    def __init__(self, *, service: Service, project_id: int, extra_params: Any = None) -> None:
        self.service = service
        self.project_id = project_id
        self.extra_params = extra_params
        self._signature: str | None = None

    def setup(self) -> str:
        client = self.service.gateway.client(self.project_id)
        if client is None:
            raise LabelStudioError("the live loop needs Label Studio's URL and API key")
        project = client.get_project(self.project_id)
        return self.service.loop.setup_project(
            project_id=self.project_id, label_config=project["label_config"], extra_params=self.extra_params,
            hostname=client.base_url, title=project.get("title"),
        )

    def sync_once(self) -> RoundSummary:
        started = time.perf_counter()
        tasks = self.service.gateway.export_tasks(self.project_id)
        annotations = sorted((int(a["id"]), str(a.get("updated_at")), bool(a.get("was_cancelled")))
                             for t in tasks for a in t.get("annotations") or [])
        signature = hashlib.sha256(json.dumps([len(tasks), annotations]).encode()).hexdigest()
        changed = signature != self._signature
        status, version, pushed = "unchanged", None, 0
        if changed:
            project = self.service.loop.project(self.project_id)
            config = self.service.loop.config_of(project)
            with session_scope(self.service.engine) as session:
                _pull(session, self.project_id, config, lambda _pid: tasks)
            outcome = self.service.loop.retrain(self.project_id, force=True)
            status, version = outcome.status, outcome.version
            if outcome.status == "trained" and outcome.version and self.service.quality is not None:
                self.service.quality.submit(self.project_id, outcome.version)  # in the background, as the worker
            publisher = self.service.loop.publisher
            if isinstance(publisher, LabelStudioPublisher) and publisher.last and publisher.last.version == version:
                pushed = publisher.last.pushed
            if outcome.status != "failed":
                self._signature = signature
        return RoundSummary(changed, len(tasks), len(annotations), status, version, pushed,
                            time.perf_counter() - started)

    def run(self, *, interval: float, stop: threading.Event, console: Console) -> None:
        while not stop.is_set():
            try:
                with console.status(f"syncing project {self.project_id}…"):
                    summary = self.sync_once()
                if summary.changed:
                    console.print(f"[bold]round[/]: {summary.n_tasks} tasks, {summary.n_annotations} annotations → "
                                  f"{summary.status} {summary.version or ''} pushed {summary.pushed} predictions "
                                  f"in {summary.seconds:.1f} s")
            except RetryLater as exc:
                console.print(f"[yellow]waiting for Label Studio:[/] {exc}")
            stop.wait(interval)


def register(app: typer.Typer) -> None:
    @app.command()
    def loop(
        url: str = typer.Option(..., envvar="LABEL_STUDIO_URL", help="Label Studio URL."),
        project: int = typer.Option(..., help="Label Studio project id."),
        api_key: str = typer.Option(..., envvar="LABEL_STUDIO_API_KEY", help="Legacy token or personal access token."),
        interval: float = typer.Option(5.0, help="Seconds between polls."),
        extra_params: str = typer.Option(None, help="Project settings as JSON (strategy, learner, retrain_every...)."),
        page_port: int = typer.Option(9091, help="Serve the project page on 127.0.0.1:PORT (0: do not serve it)."),
    ) -> None:
        """Headless live loop: pull annotations, retrain, push the ranking — no webhooks needed."""
        console = Console()
        settings = Settings(label_studio_url=url, label_studio_api_key=api_key, start_workers=False, port=page_port)
        service = build_service(settings)
        client = service.gateway.client(project)
        try:
            if client is None:
                raise LabelStudioError("the live loop needs --url and --api-key")
            console.print(f"Label Studio {client.check()} at {url}, project {project}")
            extra = json.loads(extra_params) if extra_params else None
            live = LiveLoop(service=service, project_id=project, extra_params=extra)
            live.setup()
        except (LabelStudioError, RetryLater, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            service.stop()
            raise typer.Exit(2) from None
        pages = PagesServer(service=service, host=settings.host, port=page_port) if page_port else None
        if pages is not None:
            if pages.start():
                console.print(f"project page: {settings.base_url}/projects/{project}/page")
            else:
                console.print(f"[yellow]could not serve the project page on port {page_port}[/] (in use?)")
        stop = threading.Event()
        try:
            live.run(interval=interval, stop=stop, console=console)
        except KeyboardInterrupt:
            console.print("stopped")
        finally:
            stop.set()
            if pages is not None:
                pages.stop()
            service.stop()
