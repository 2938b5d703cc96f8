"""``labelsieve loop``: keep a Label Studio project ranked without webhooks (headless live loop).

The first poll exports the project once (first contact). Every ``--interval`` seconds after it: list the tasks
Label Studio changed since the last poll (``GET /api/tasks`` filtered on ``updated_at``, ids only: saving or
deleting an annotation through Label Studio bumps its task's ``updated_at``, new tasks are new), export those tasks
only (``export?ids[]=``), store them (deleted annotations leave the training set), read the task count (deleted
tasks: then, and only then, the task ids are listed), retrain when the annotations changed, and push the new ranking
(predictions + project ``model_version``). A poll's cost follows what changed, not the project's size. Works when
Label Studio cannot reach the backend (firewalls, Docker networks): only labelsieve → Label Studio traffic is needed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console

from labelsieve.commands.pages_server import PagesServer
from labelsieve.labelstudio.client import LabelStudioError
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.service.applier import apply_export
from labelsieve.service.container import Service, build_service
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

#: Label Studio's Data Manager datetime filter format (``data_manager/managers.py`` ``DATETIME_FORMAT``), UTC
LS_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
EPOCH = "1970-01-01T00:00:00.000000Z"
#: each poll lists from this long before the newest change it saw: a save committed late is not missed (tasks seen
#: twice are compared with what was stored and cost nothing more)
SINCE_OVERLAP = timedelta(seconds=5)


def _parse_time(value: str) -> datetime:
    """Label Studio's ISO time (``2026-12-06T15:41:30.123456Z`` or with an offset) as naive UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


@dataclass
class SyncSummary:
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
        #: task id → its annotations' (id, updated_at, was_cancelled), as last stored (None before the first poll)
        self._signatures: dict[int, tuple[tuple[int, str, bool], ...]] | None = None
        #: Label Studio's newest task ``updated_at`` seen (its own clock), where the next poll's listing starts
        self._since: str | None = None
        #: task id → the ``updated_at`` Label Studio gave it when it was last exported: a task listed again inside
        #: the overlap window, unchanged, is not exported again
        self._stamps: dict[int, str] = {}
        self._pending = False  # a change stored but not trained on yet (the retrain failed)

    def setup(self) -> str:
        client = self.service.gateway.client(self.project_id)
        if client is None:
            raise LabelStudioError("the live loop needs Label Studio's URL and API key")
        project = client.get_project(self.project_id)
        return self.service.loop.setup_project(
            project_id=self.project_id, label_config=project["label_config"], extra_params=self.extra_params,
            hostname=client.base_url, title=project.get("title"),
        )

    def sync_once(self) -> SyncSummary:
        started = time.perf_counter()
        client = self.service.gateway.client(self.project_id)
        if client is None:
            raise LabelStudioError("the live loop needs Label Studio's URL and API key")
        first = self._signatures is None
        if first:  # first contact: the whole project, once
            tasks = client.export_tasks(self.project_id)
        else:
            tasks = client.export_task_ids(self.project_id, self._changed_ids(client))
        changed = self._store(tasks, replace_all=first)
        if not first:
            changed = self._reconcile(client) or changed
        self._pending = self._pending or changed
        status, version, pushed = "unchanged", None, 0
        if self._pending:
            outcome = self.service.loop.retrain(self.project_id, force=True)
            status, version = outcome.status, outcome.version
            if outcome.status == "trained" and outcome.version and self.service.quality is not None:
                self.service.quality.submit(self.project_id, outcome.version)  # in the background, as the worker
            publisher = self.service.loop.publisher
            if publisher is not None and version:
                pushed = publisher.last_pushed(version)
            if outcome.status != "failed":
                self._pending = False
        signatures = self._signatures or {}
        return SyncSummary(changed, len(signatures), sum(len(v) for v in signatures.values()), status, version,
                            pushed, time.perf_counter() - started)

    def _changed_ids(self, client: Any) -> list[int]:
        """Ids of the tasks Label Studio changed (or created) since the last poll, by id pages."""
        ids: list[int] = []
        for page in client.task_pages(self.project_id, updated_after=self._since,
                                      what=f"listing changed tasks of project {self.project_id}"):
            ids += [int(t["id"]) for t in page if str(t.get("updated_at")) != self._stamps.get(int(t["id"]))]
        return ids

    def _store(self, tasks: list[dict[str, Any]], *, replace_all: bool) -> bool:
        """Store exported tasks; True when their annotations (or the task set) differ from what was stored."""
        signatures = {} if replace_all or self._signatures is None else self._signatures
        fresh = {int(t["id"]): tuple(sorted((int(a["id"]), str(a.get("updated_at")), bool(a.get("was_cancelled")))
                                            for a in t.get("annotations") or [])) for t in tasks}
        changed = replace_all or any(signatures.get(tid) != sig for tid, sig in fresh.items())
        stamps = [str(t["updated_at"]) for t in tasks if t.get("updated_at")]
        self._stamps.update({int(t["id"]): str(t["updated_at"]) for t in tasks if t.get("updated_at")})
        if stamps:
            newest = max(_parse_time(x) for x in stamps)
            self._since = max(self._since or "", (newest - SINCE_OVERLAP).strftime(LS_TIME_FORMAT))
        if changed:  # the first poll's export is the whole project; a later one, the tasks it lists
            apply_export(self.service.engine, self.project_id, tasks, replace="project" if replace_all else "tasks")
        signatures.update(fresh)
        self._signatures = signatures
        if self._since is None:
            self._since = EPOCH
        return changed

    def _reconcile(self, client: Any) -> bool:
        """Tasks deleted in Label Studio leave labelsieve's copy: the task count first (one number), the ids only
        when it differs."""
        assert self._signatures is not None
        if client.task_number(self.project_id) == len(self._signatures):
            return False
        present = set(client.task_ids(self.project_id))
        gone = sorted(set(self._signatures) - present)
        if not gone:
            return False
        with session_scope(self.service.engine) as session:
            crud.delete_tasks(session=session, project_id=self.project_id, task_ids=gone)
        for tid in gone:
            self._signatures.pop(tid, None)
        return True

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
