"""Observer mode's read of another backend's stored predictions, incremental across rounds.

Label Studio 1.23.2 lists a project's tasks with their predictions (``GET /api/tasks?fields=all``: every model
version, each region with its own ``score``). A round reads only what changed since the last one:

1. ``GET /api/projects/{id}/model-versions/``: the prediction count of every model version (one request);
2. the tasks whose ``updated_at`` is after the last round's newest one (less ``OVERLAP_SECONDS`` the first time
   after a change, so a write that committed late is not missed), and the tasks with an id above the highest one
   seen, by id pages. Label Studio bumps a task's ``updated_at`` whenever a
   prediction is saved one by one (an ML backend's ``/predict`` answers, ``POST /api/predictions/``, a ``PATCH``)
   and whenever an annotation is saved or deleted;
3. the bulk paths do not bump it (``POST /api/projects/{id}/import/predictions`` and predictions imported with their
   tasks use ``bulk_create``): when the observed versions' counts still differ from what the read has seen, the whole
   project is listed again once (``reconcile``). So a round costs O(changed tasks), and O(project) only on first
   contact and after a bulk import.

The state (per task: its newest prediction of every model version not written by labelsieve, the count of each,
whether Label Studio counts the task as labelled) is kept in memory and stored as rows (``observedtask``, one per
task, and ``observedproject``); a read records which tasks' entries it changed or removed
(:meth:`ObservedState.take_changes`), so storing it writes only those rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from labelsieve.labelstudio.client import LabelStudioClient

#: labelsieve's own prediction versions in Label Studio start with this: never observed
OWN_PREFIX = "labelsieve"
#: a changed task is listed again if its ``updated_at`` is this close before the last round's newest one (a write
#: that committed late); a prediction missed anyway changes the counts, and the project is read again
OVERLAP_SECONDS = 2.0
#: the fields a listed task carries (``fields=all`` adds the predictions; ``include`` drops the rest)
INCLUDE = "id,predictions,is_labeled,updated_at"
PAGE_SIZE = 1000


@dataclass
class ObservedState:
    """What the reads so far have seen of one project (see the module docstring)."""

    max_id: int = 0
    watermark: str | None = None  # the newest ``updated_at`` Label Studio listed
    #: task id -> {"labeled": bool, "versions": {version: {"id", "n", "score", "result"}}}
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: the last read found nothing newer than ``watermark``: its overlap window was listed again once already
    settled: bool = False
    round: int = 0  # observer rounds that pushed a ranking
    pushed_key: str | None = None  # what the last push was (an unchanged head is not pushed again)
    changed: set[int] = field(default_factory=set)  # tasks whose entry changed since the last take_changes
    removed: set[int] = field(default_factory=set)  # tasks Label Studio no longer lists (a full read)

    def counts(self) -> dict[str, int]:
        """Predictions per observed model version, as Label Studio counts them."""
        out: dict[str, int] = {}
        for task in self.tasks.values():
            for version, seen in task["versions"].items():
                out[version] = out.get(version, 0) + int(seen["n"])
        return out

    def newest_version(self) -> str | None:
        """The model version (not labelsieve's) whose newest prediction has the highest id."""
        newest: dict[str, int] = {}
        for task in self.tasks.values():
            for version, seen in task["versions"].items():
                newest[version] = max(newest.get(version, 0), int(seen["id"]))
        return max(newest, key=lambda v: (newest[v], v)) if newest else None

    def put(self, task_id: int, entry: dict[str, Any]) -> None:
        """Record a listed task's entry; only an entry that differs from the known one counts as a change."""
        if self.tasks.get(task_id) != entry:
            self.tasks[task_id] = entry
            self.changed.add(task_id)
            self.removed.discard(task_id)

    def drop(self, task_id: int) -> None:
        if self.tasks.pop(task_id, None) is not None:
            self.removed.add(task_id)
            self.changed.discard(task_id)

    def take_changes(self) -> tuple[dict[int, tuple[bool, dict[str, Any]]], set[int]]:
        """The entries changed and the tasks removed since the last call, as ``({task: (labelled, versions)},
        removed)``; the record starts empty again."""
        changed = {t: (bool(self.tasks[t]["labeled"]), self.tasks[t]["versions"]) for t in sorted(self.changed)}
        removed = set(self.removed)
        self.changed.clear()
        self.removed.clear()
        return changed, removed

    def position(self) -> dict[str, Any]:
        """The project-level fields, as stored in its ``observedproject`` row."""
        return {"max_id": self.max_id, "watermark": self.watermark, "settled": self.settled, "round": self.round,
                "pushed_key": self.pushed_key}

    @classmethod
    def from_rows(cls, position: dict[str, Any] | None, tasks: dict[int, tuple[bool, dict[str, Any]]]
                  ) -> ObservedState:
        """The state stored by :meth:`position` and :meth:`take_changes` (a fresh one when nothing was stored)."""
        if position is None:
            return cls()
        return cls(max_id=int(position["max_id"]), watermark=position["watermark"], settled=bool(position["settled"]),
                   round=int(position["round"]), pushed_key=position["pushed_key"],
                   tasks={t: {"labeled": labeled, "versions": versions} for t, (labeled, versions) in tasks.items()})


@dataclass
class ReadResult:
    how: str  # full | incremental | reconcile
    tasks_read: int
    requests: int
    seconds: float
    #: every model version's prediction count in Label Studio (labelsieve's own included)
    versions: dict[str, int] = field(default_factory=dict)


def task_entry(row: dict[str, Any]) -> dict[str, Any]:
    """One listed task: whether it is labelled, and its newest prediction and count per observed version."""
    versions: dict[str, dict[str, Any]] = {}
    for prediction in row.get("predictions") or []:
        version = str(prediction.get("model_version") or "")
        if version.startswith(OWN_PREFIX):
            continue
        seen = versions.get(version)
        pid = int(prediction.get("id") or 0)
        if seen is None or pid > seen["id"]:
            versions[version] = {"id": pid, "n": (seen["n"] if seen else 0) + 1, "score": prediction.get("score"),
                                 "result": list(prediction.get("result") or [])}
        else:
            seen["n"] += 1
    return {"labeled": bool(row.get("is_labeled")), "versions": versions}


def _since(watermark: str, overlap: float) -> str:
    """The filter value Label Studio's Datetime filter parses (``%Y-%m-%dT%H:%M:%S.%fZ``, UTC)."""
    moment = datetime.fromisoformat(watermark.replace("Z", "+00:00")) - timedelta(seconds=overlap)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ObservedReader:
    """Brings an :class:`ObservedState` up to date with Label Studio (see the module docstring)."""

    def __init__(self, *, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size

    def read(self, client: LabelStudioClient, project_id: int, state: ObservedState) -> ReadResult:
        started, sent = time.perf_counter(), _sent(client)
        versions = client.model_versions(project_id)
        observed = {v: n for v, n in versions.items() if not v.startswith(OWN_PREFIX) and n}
        if state.watermark is None:
            read = self._full(client, project_id, state)
            return ReadResult("full", read, _sent(client) - sent, time.perf_counter() - started, versions)
        rows: dict[int, dict[str, Any]] = {}
        before = state.watermark
        since = _since(state.watermark, 0.0 if state.settled else OVERLAP_SECONDS)
        for kwargs in ({"updated_after": since}, {"after_id": state.max_id}):
            for page in client.task_pages(project_id, page_size=self.page_size, fields="all",
                                          include=INCLUDE, what=f"listing changed tasks of project {project_id}",
                                          **kwargs):
                rows.update({int(r["id"]): r for r in page})
        self._apply(state, rows.values())
        state.settled = state.watermark == before  # the window was listed again: next time from the watermark
        how, read = "incremental", len(rows)
        if state.counts() != observed:  # a bulk import (or a deletion) the listing cannot see: all of it, once
            how, read = "reconcile", read + self._full(client, project_id, state)
        return ReadResult(how, read, _sent(client) - sent, time.perf_counter() - started, versions)

    def _full(self, client: LabelStudioClient, project_id: int, state: ObservedState) -> int:
        rows: dict[int, dict[str, Any]] = {}
        for page in client.task_pages(project_id, page_size=self.page_size, fields="all", include=INCLUDE,
                                      what=f"listing the tasks and predictions of project {project_id}"):
            rows.update({int(r["id"]): r for r in page})
        for task_id in [t for t in state.tasks if t not in rows]:  # deleted in Label Studio
            state.drop(task_id)
        state.watermark = None
        self._apply(state, rows.values())
        state.watermark = state.watermark or "1970-01-01T00:00:00+00:00"
        return len(rows)

    @staticmethod
    def _apply(state: ObservedState, rows: Any) -> None:
        for row in rows:
            task_id = int(row["id"])
            state.put(task_id, task_entry(row))
            state.max_id = max(state.max_id, task_id)
            stamp = row.get("updated_at")
            if stamp and (state.watermark is None or _later(stamp, state.watermark)):
                state.watermark = str(stamp)


def _sent(client: LabelStudioClient) -> int:
    return len(client.request_log)


def _later(a: str, b: str) -> bool:
    return datetime.fromisoformat(a.replace("Z", "+00:00")) > datetime.fromisoformat(b.replace("Z", "+00:00"))
