"""What one webhook event or one Label Studio export asks of the store (:class:`Change`), before the applier
(:mod:`labelsieve.service.applier`) checks and writes it, and the concurrent check of webhook annotations against
Label Studio (:func:`verify_all`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import Action, WebhookPayload
from labelsieve.service.inbox import Verifier, as_list
from labelsieve.storage.models import WebhookEvent

#: Label Studio requests in flight at once while checking a run's annotations
VERIFY_CONCURRENCY = 8


@dataclass
class Change:
    """What one event (or one export) asks of the store, before it is checked and written."""

    stores: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (annotation id, Label Studio's dict)
    deletes: list[int] = field(default_factory=list)  # annotation ids
    tasks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (task id, data)
    task_deletes: list[int] = field(default_factory=list)
    force_train: bool = False
    #: read from Label Studio itself (an export, a START_TRAINING pull): never re-checked, its task data wins
    exported: bool = False


def plan_event(event: WebhookEvent) -> tuple[Change, WebhookPayload]:
    """The change a stored webhook asks for (raises when its payload cannot be used)."""
    payload = WebhookPayload.model_validate(event.payload)
    change = Change()
    if event.action == Action.ANNOTATIONS_DELETED:
        change.deletes = [ref.id for ref in payload.annotations or []]
    elif event.action == Action.TASKS_CREATED:  # new tasks join the pool of the next ranking
        change.tasks = [(t.id, dict(t.data or {})) for t in payload.tasks or []]
        change.exported = True  # Label Studio's own data for new tasks, as the one-event path always stored it
    elif event.action == Action.TASKS_DELETED:
        change.task_deletes = [t.id for t in payload.tasks or []]
    elif event.action == Action.START_TRAINING:
        change.force_train = True
    else:
        tasks = as_list(payload.task)
        change.tasks = [(task.id, dict(task.data or {})) for task in tasks]
        for ann in as_list(payload.annotation):
            raw = ann.model_dump(mode="json")
            raw["task"] = ann.task_id(tasks[0].id if len(tasks) == 1 else None)
            change.stores.append((ann.id, raw))
    return change, payload


def export_change(tasks: list[dict[str, Any]], *, gone: set[int] | None = None) -> Change:
    """The change a Label Studio export (tasks with their ``annotations``) makes; ``gone``: stored annotation ids
    the export no longer has (deleted in Label Studio)."""
    change = Change(exported=True, deletes=sorted(gone or ()))
    change.tasks = [(int(t["id"]), dict(t.get("data") or {})) for t in tasks]
    change.stores = [(int(a["id"]), dict(a, task=int(t["id"]))) for t in tasks for a in t.get("annotations") or []]
    return change


def verify_all(verifier: Verifier, project_id: int, raws: dict[int, dict[str, Any]]) -> dict[int, Any]:
    """Label Studio's copy of each annotation (None when it has none) or the exception its check raised.

    Once one check finds Label Studio unreachable, the checks not yet started are not made: they
    get a :class:`RetryLater` too (the run stops at the first of them anyway)."""
    unreachable = threading.Event()

    def check(raw: dict[str, Any]) -> dict[str, Any] | None:
        if unreachable.is_set():
            raise RetryLater("not checked: Label Studio was unreachable for another annotation of the batch")
        try:
            return verifier(project_id, raw)
        except RetryLater:
            unreachable.set()
            raise

    out: dict[int, Any] = {}
    if not raws:
        return out
    with ThreadPoolExecutor(max_workers=min(VERIFY_CONCURRENCY, len(raws)),
                            thread_name_prefix="labelsieve-verify") as pool:
        futures = {pool.submit(check, raw): ann_id for ann_id, raw in raws.items()}
        for future in as_completed(futures):
            error = future.exception()
            out[futures[future]] = error if error is not None else future.result()
    return out
