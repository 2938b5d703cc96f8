"""Deleting labelsieve's stale prediction versions from Label Studio off the path of the round.

A version holds only what was pushed for it, so its ``DELETE /api/projects/{id}/model-versions/`` is O(head),
but Label Studio recounts each deleted prediction's task in one transaction: 1.3–1.8 s for a 100-prediction
head at load 1.5, 4–9 s under load, and on SQLite that transaction holds the database's write lock, so a
``/next`` (which locks the task it serves) waits for it. Right after a new version is live the annotators'
``/next`` calls are what must not wait.

:class:`StaleVersionRemover` therefore runs each prune in a background thread that is started once the new
version is live and then **held** until the next round of the project starts (the loop's ``round_starting``:
that round's task sync, fit and ranking take seconds in labelsieve and write nothing to Label Studio), or
``delay_seconds`` after the version went live when no round comes. Every writer of the project's
predictions — the next round's push, a refill of the head — first :meth:`joins <StaleVersionRemover.join>` it, so
two writers of one project never overlap in Label Studio and at most one stale version waits at a time.
A failed prune is logged, shown in the project status (:meth:`StaleVersionRemover.status`) and retried by the
next round's prune, which lists the versions again; it never touches the live version or the newest
``keep_versions - 1`` older ones, nor another model's versions. :meth:`StaleVersionRemover.stop` (service
shutdown) lets the held prunes run at once and joins them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labelsieve.labelstudio.client import LabelStudioClient

log = logging.getLogger(__name__)
VERSION_PREFIX = "labelsieve-v"
#: hold(project_id, live version): called in the prune's thread right before its deletes, when it has some (a test
#: hook)
Hold = Callable[[int, str], None]


@dataclass
class PruneResult:
    project_id: int
    after: str  # the version whose going live made the others stale
    versions: list[str] = field(default_factory=list)  # the stale versions deleted
    deleted: int = 0  # predictions Label Studio deleted
    seconds: float = 0.0  # listing and deleting, from the moment the prune ran
    held_seconds: float = 0.0  # from the version going live until the prune ran
    error: str | None = None
    finished_at: float = 0.0  # time.time()


@dataclass
class _Job:
    result: PruneResult
    go: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    waiting: int = 0  # writers (a push, a refill) waiting for it


def stale_versions(versions: list[str], current: str, keep_versions: int) -> list[str]:
    """labelsieve's versions beyond the live one and the newest ``keep_versions - 1`` others, oldest first."""
    ours = sorted((v for v in versions if v.startswith(VERSION_PREFIX) and v != current), key=version_number)
    return ours[: max(0, len(ours) - (keep_versions - 1))]


def version_number(version: str) -> int:
    try:
        return int(version[len(VERSION_PREFIX):].split("-")[0])
    except ValueError:
        return -1


class StaleVersionRemover:
    """One background prune per project at a time: ``start`` after a version is live, ``join`` before a write."""

    def __init__(self, *, keep_versions: int = 2, delay_seconds: float = 10.0, hold: Hold | None = None) -> None:
        self.keep_versions = keep_versions
        #: the longest a prune is held after its version went live when no round starts
        self.delay_seconds = delay_seconds
        self.hold = hold
        self._jobs: dict[int, _Job] = {}
        self._failures: dict[int, int] = {}  # consecutive failed prunes per project
        self._lock = threading.Lock()

    def start(self, client: LabelStudioClient, project_id: int, current: str) -> None:
        """Prune the versions ``current`` made stale, in the background, once released (see the module)."""
        self.join(project_id)  # never two prunes of one project
        job = _Job(PruneResult(project_id, current))
        job.thread = threading.Thread(target=self._run, args=(client, job, time.perf_counter()),
                                      name=f"ls-prune-{project_id}", daemon=True)
        with self._lock:
            self._jobs[project_id] = job
        job.thread.start()

    def release(self, project_id: int) -> None:
        """Let the held prune of ``project_id`` run now (a round starts: it fits while Label Studio deletes)."""
        with self._lock:
            job = self._jobs.get(project_id)
        if job is not None:
            job.go.set()

    def join(self, project_id: int) -> float:
        """Release and wait for the project's prune; the seconds waited (0.0 when none was running)."""
        with self._lock:
            job = self._jobs.get(project_id)
        if job is None or job.done.is_set():
            return 0.0
        started = time.perf_counter()
        with self._lock:
            job.waiting += 1
        job.go.set()
        job.done.wait()
        with self._lock:
            job.waiting -= 1
        return time.perf_counter() - started

    def stop(self) -> None:
        """Shutdown: every held prune runs now; wait for all of them."""
        with self._lock:
            projects = list(self._jobs)
        for project_id in projects:
            self.join(project_id)

    def status(self, project_id: int) -> dict[str, Any] | None:
        """The project's last prune for status pages: state (held, running, done, failed), versions, seconds,
        whether a push or refill waits for it."""
        with self._lock:
            job = self._jobs.get(project_id)
            failures = self._failures.get(project_id, 0)
            waiting = job.waiting if job is not None else 0
        if job is None:
            return None
        r = job.result
        state = ("failed" if r.error else "done") if job.done.is_set() else "running" if job.go.is_set() else "held"
        return {"state": state, "after": r.after, "versions": list(r.versions), "deleted": r.deleted,
                "seconds": round(r.seconds, 3), "held_seconds": round(r.held_seconds, 3), "error": r.error,
                "consecutive_failures": failures, "writer_waiting": waiting > 0}

    def _run(self, client: LabelStudioClient, job: _Job, live_at: float) -> None:
        r = job.result
        try:
            job.go.wait(self.delay_seconds)
            job.go.set()
            ran = time.perf_counter()
            r.held_seconds = ran - live_at
            stale = stale_versions(list(client.model_versions(r.project_id)), r.after, self.keep_versions)
            if stale and self.hold is not None:
                self.hold(r.project_id, r.after)
            for version in stale:
                r.deleted += client.delete_model_version(r.project_id, version)
                r.versions.append(version)
            r.seconds = time.perf_counter() - ran
            with self._lock:
                self._failures[r.project_id] = 0
            log.info("project %s: pruned %d predictions of %s after %s went live in %.2f s (background, held "
                     "%.2f s)", r.project_id, r.deleted, r.versions or "no version", r.after, r.seconds,
                     r.held_seconds)
        except Exception as exc:  # noqa: BLE001 - the live version is untouched; the next round's prune retries
            r.error = f"{type(exc).__name__}: {exc}"[:500]
            with self._lock:
                self._failures[r.project_id] = self._failures.get(r.project_id, 0) + 1
            log.exception("project %s: pruning the versions older than %s failed (retried after the next round)",
                          r.project_id, r.after)
        finally:
            r.finished_at = time.time()
            job.done.set()
