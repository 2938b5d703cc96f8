"""First contact: what ``/setup`` of a project labelsieve has never synced starts in the background.

Label Studio calls ``/setup`` when a backend is connected (*Connect model*) and again before many of its calls, but
sends webhooks only for what happens afterwards: a project connected with existing labels would get no model until
someone annotates again. So the first ``/setup`` of a project starts, in a background thread (``/setup`` answers at
once):

1. the annotated tasks, with their annotations: Label Studio's export with ``download_all_tasks=false``
   (O(annotated tasks), not O(project));
2. the rest of the task list, by id pages (``GET /api/tasks``, :meth:`LabelStudioClient.task_pages`; the first
   page smaller than the others). After the first page the project's worker is asked for a round (forced): with
   at least ``min_annotations`` labels it trains and pushes a first head ranked from the part synced so far, while
   the other pages arrive; with fewer, a label-free strategy ranks cold (:mod:`labelsieve.service.cold_start`);
3. when the last page is stored, and a round was asked for, another round re-ranks the whole pool.

While a first contact syncs, the worker's own pool refresh (:class:`labelsieve.labelstudio.tasksync.TaskSync`)
leaves the project to it. Starting is idempotent: once per project (a ``done`` marker under
``<data_dir>/first_contact`` survives restarts), never twice at the same time, and retried by a later ``/setup``
after a failure (not before ``RETRY_SECONDS``). Progress is in ``GET /projects/{id}`` (``first_contact``), the
project page and ``/health``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.service import fault_hooks
from labelsieve.service.applier import apply_export
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import utcnow

log = logging.getLogger(__name__)
#: a failed first contact is started again by a ``/setup`` at least this many seconds after it failed
RETRY_SECONDS = 30.0


@dataclass
class ContactProgress:
    """Where one project's first contact stands (the status's ``first_contact``)."""

    project_id: int
    state: str = "syncing"  # syncing | done | failed
    started_at: str = ""
    finished_at: str | None = None
    tasks_total: int | None = None  # Label Studio's task count when the sync began
    tasks_synced: int = 0
    pages: int = 0
    annotations: int = 0
    annotated_tasks: int = 0
    #: rounds asked of the worker: "first-head" after the first page, "full-pool" after the last
    rounds: tuple[str, ...] = ()
    seconds: float = 0.0
    #: rounds of the worker that ranked while this sync held the task list (webhooks arrived meanwhile)
    held_rounds: int = 0
    attempts: int = 1
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rounds"] = list(self.rounds)
        return out


class FirstContact:
    """Starts (once per project) and reports the background first contact; ``round_for(project)`` asks the
    project's worker for a forced round (``TrainingWorker.notify(project, force=True)``)."""

    def __init__(
        self, *, engine: Engine, gateway: LabelStudioGateway, round_for: Callable[[int], None], state_dir: Path,
        page_size: int = 5000, first_page_size: int = 1000,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.round_for = round_for
        self.state_dir = state_dir
        self.page_size = page_size
        #: the first page is smaller: the first head is ranked from it, sooner
        self.first_page_size = first_page_size
        self._progress: dict[int, ContactProgress] = {}
        self._failed_at: dict[int, float] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # ----------------------------------------------------------------- starting
    def start(self, project_id: int) -> bool:
        """Start the first contact of ``project_id`` unless it ran, runs, failed moments ago, or there is no Label
        Studio client for it; True when a thread was started. Cheap: ``/setup`` calls it every time."""
        with self._lock:
            current = self._progress.get(project_id)
            if self._stopping.is_set() or (current is not None and current.state != "failed"):
                return False
            if current is not None and time.monotonic() - self._failed_at.get(project_id, 0.0) < RETRY_SECONDS:
                return False
            if current is None and self._stored(project_id) is not None:
                return False
            if self.gateway.client(project_id) is None:
                return False
            if current is None and self._synced_before(project_id):
                return False
            progress = ContactProgress(project_id, started_at=utcnow().isoformat(),
                                       attempts=(current.attempts + 1) if current is not None else 1)
            self._progress[project_id] = progress
            thread = threading.Thread(target=self._run, args=(progress,), name=f"labelsieve-contact-{project_id}",
                                      daemon=True)
            self._threads[project_id] = thread
        thread.start()
        return True

    def _synced_before(self, project_id: int) -> bool:
        """A project that already serves a model (set up before first contact existed) needs none: mark it done."""
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
        if project is None or not project.model_version:
            return False
        self._write(ContactProgress(project_id, state="done", started_at=utcnow().isoformat(),
                                    finished_at=utcnow().isoformat(), error="served a model before first contact"))
        return True

    # ------------------------------------------------------------------ running
    def _run(self, progress: ContactProgress) -> None:
        started = time.perf_counter()
        pid = progress.project_id
        try:
            self._sync(progress)
            with self._lock:
                progress.state = "done"  # from here the worker's pool refresh is its own again
            if not progress.rounds:  # one page: the first round (a model, or a cold start) sees the whole pool
                progress.rounds += ("first-head",)
                self.round_for(pid)
            elif progress.rounds or progress.held_rounds:  # a round ranked part of the pool: rank it all
                progress.rounds += ("full-pool",)
                self.round_for(pid)
        except Exception as exc:  # noqa: BLE001 - reported in the status, retried by a later /setup
            if self._stopping.is_set():
                log.info("first contact of project %s stopped with the service", pid)
            else:
                log.exception("first contact of project %s failed", pid)
            progress.state = "failed"
            progress.error = f"{type(exc).__name__}: {exc}"[:2000]
            with self._lock:
                self._failed_at[pid] = time.monotonic()
        progress.seconds = time.perf_counter() - started
        progress.finished_at = utcnow().isoformat()
        if progress.state == "done":
            self._write(progress)
        log.info("project %s: first contact %s in %.2f s (%d tasks in %d page(s), %d annotations)", pid,
                 progress.state, progress.seconds, progress.tasks_synced, progress.pages, progress.annotations)

    def _sync(self, progress: ContactProgress) -> None:
        pid = progress.project_id
        client = self.gateway.client(pid)
        if client is None:
            raise RuntimeError("no Label Studio URL and key for the project any more")
        progress.tasks_total = client.task_number(pid)
        annotated = client.export_tasks(pid, annotated_only=True)
        crud_project(self.engine, pid)  # raises when the project is no longer set up
        apply_export(self.engine, pid, annotated)
        with session_scope(self.engine) as session:
            progress.annotations = crud.count_annotations(session=session, project_id=pid)
        progress.annotated_tasks = len(annotated)
        progress.tasks_synced = len(annotated)
        first = min(self.first_page_size, self.page_size)
        for page in client.task_pages(pid, page_size=self.page_size, first_page_size=first,
                                      what=f"first contact of project {pid}"):
            with session_scope(self.engine) as session:
                known = crud.get_tasks(session=session, task_ids=[int(t["id"]) for t in page])
                crud.upsert_tasks(session=session, project_id=pid, tasks=[
                    {"id": int(t["id"]), "data": t.get("data") or {}} for t in page if int(t["id"]) not in known])
                progress.tasks_synced = crud.count_tasks(session=session, project_id=pid)
            progress.pages += 1
            if progress.pages == 1 and len(page) >= first:  # more pages follow
                progress.rounds += ("first-head",)
                self.round_for(pid)  # the first head, ranked from what is synced so far
            fault_hooks.before_sync_page(pid, progress.pages + 1)
            if self._stopping.is_set():  # not marked done: the next start of the service syncs it again
                raise RuntimeError("the service stopped during the sync")

    # ---------------------------------------------------------------- reporting
    def holds(self, project_id: int) -> bool:
        """``syncing``, for the worker's pool refresh: a round that ranks now sees part of the pool, so the sync
        asks for another round when it ends."""
        with self._lock:
            current = self._progress.get(project_id)
            if current is None or current.state != "syncing":
                return False
            current.held_rounds += 1
            return True

    def tasks_total(self, project_id: int) -> int | None:
        """Label Studio's task count of a project whose first contact is syncing (labelsieve holds part of it),
        else None: the publisher's measure of what Label Studio recounts."""
        with self._lock:
            current = self._progress.get(project_id)
            return current.tasks_total if current is not None and current.state == "syncing" else None

    def progress(self, project_id: int) -> dict[str, Any] | None:
        with self._lock:
            current = self._progress.get(project_id)
        if current is not None:
            return current.as_dict()
        stored = self._stored(project_id)
        return stored

    def active(self) -> list[dict[str, Any]]:
        """First contacts syncing or failed in this process (``/health``)."""
        with self._lock:
            rows = [p.as_dict() for p in self._progress.values() if p.state != "done"]
        return sorted(rows, key=lambda r: r["project_id"])

    def wait(self, project_id: int, timeout: float = 60.0) -> bool:
        """Block until the project's first-contact thread ends (tests, CLI); False on timeout."""
        with self._lock:
            thread = self._threads.get(project_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def stop(self, timeout: float = 30.0) -> bool:
        """Shutdown: no first contact starts, a running one stops after the page it is storing; waits up to
        ``timeout`` seconds for them. False when one is still running then."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    # ------------------------------------------------------------------ markers
    def _path(self, project_id: int) -> Path:
        return self.state_dir / f"{int(project_id)}.json"

    def _stored(self, project_id: int) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self._path(project_id).read_text()))
        except (OSError, ValueError):
            return None

    def _write(self, progress: ContactProgress) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self._path(progress.project_id)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(progress.as_dict()))
        tmp.replace(path)


def crud_project(engine: Engine, project_id: int) -> Any:
    with session_scope(engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
    if project is None:
        raise LookupError(f"project {project_id} is not set up")
    return project
