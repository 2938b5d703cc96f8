"""Webhook intake and application.

``accept`` validates a webhook and writes it to the inbox table in one short transaction, so
the HTTP acknowledgement is fast and durable: an acknowledged event survives a crash.
``apply_pending`` (run by the worker) turns inbox rows into task/annotation rows, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from labelsieve.labelconfig import LabelConfig, UnsupportedLabelConfig, parse_label_config
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import HANDLED_ACTIONS, Action, LSAnnotation, LSTask, WebhookPayload
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project, WebhookEvent

log = logging.getLogger(__name__)

#: pull(project_id) -> list of Label Studio task dicts with their ``annotations`` (START_TRAINING).
Puller = Callable[[int], list[dict[str, Any]]]
#: verify(project_id, annotation dict) -> the annotation as Label Studio has it, or None if gone.
Verifier = Callable[[int, dict[str, Any]], dict[str, Any] | None]


class EventError(ValueError):
    """The webhook payload lacks what its action needs; the message says what."""


@dataclass
class Applied:
    changed: int = 0
    force_train: bool = False
    deferred: bool = False
    more: bool = False  # stopped at ``max_events`` with events still queued
    retry: RetryLater | None = None  # why the events wait (deferred), for /health and /projects/{id}
    errors: list[str] = field(default_factory=list)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def project_id_of(payload: WebhookPayload) -> int | None:
    if payload.project is not None:
        return payload.project.id
    for ann in _as_list(payload.annotation):
        if ann.project is not None:
            return ann.project
    return None


def validate(payload: WebhookPayload) -> int:
    """Project id of a handled event, or raise :class:`EventError` naming what is missing."""
    project_id = project_id_of(payload)
    if project_id is None:
        raise EventError(f"{payload.action} needs project.id")
    action = payload.action
    if action in (Action.ANNOTATION_CREATED, Action.ANNOTATION_UPDATED, Action.ANNOTATIONS_CREATED):
        annotations = _as_list(payload.annotation)
        if not annotations:
            raise EventError(f"{action} needs an 'annotation' object")
        tasks = _as_list(payload.task)
        for ann in annotations:
            fallback = tasks[0].id if len(tasks) == 1 else None
            try:
                ann.task_id(fallback)
            except ValueError as exc:
                raise EventError(str(exc)) from exc
    elif action == Action.ANNOTATIONS_DELETED and not payload.annotations:
        raise EventError("ANNOTATIONS_DELETED needs an 'annotations' list of {id}")
    return project_id


def accept(engine: Engine, payload: WebhookPayload) -> WebhookEvent | None:
    """Store a handled event in the inbox; return None for actions we ignore."""
    if payload.action not in HANDLED_ACTIONS:
        return None
    project_id = validate(payload)
    with session_scope(engine) as session:
        return crud.add_event(
            session=session, project_id=project_id, action=payload.action,
            payload=payload.model_dump(mode="json", exclude_none=True),
        )


def _config(project: Project | None) -> LabelConfig | None:
    if project is None or not project.label_config:
        return None
    try:
        return parse_label_config(project.label_config)
    except UnsupportedLabelConfig:
        return None


def _store_annotations(
    session: Any, project_id: int, config: LabelConfig | None, annotations: list[LSAnnotation],
    tasks: list[LSTask], verifier: Verifier | None,
) -> int:
    by_id = {task.id: task for task in tasks}
    if verifier is None:
        crud.upsert_tasks(session=session, project_id=project_id,
                          tasks=[{"id": t.id, "data": t.data} for t in tasks])
    else:  # an unverified webhook may fill in a task we lack, never overwrite one we have
        known = crud.get_tasks(session=session, task_ids=list(by_id))
        crud.upsert_tasks(session=session, project_id=project_id, tasks=[
            {"id": t.id, "data": t.data} for t in tasks if t.id not in known or not known[t.id].data])
    project = crud.get_project(session=session, project_id=project_id)
    changed = 0
    for ann in annotations:
        task_id = ann.task_id(tasks[0].id if len(tasks) == 1 else None)
        raw = ann.model_dump(mode="json")
        raw["task"] = task_id
        if verifier is not None:
            checked = verifier(project_id, raw)
            if checked is None:
                log.warning("annotation %s is not in Label Studio; webhook ignored", ann.id)
                continue
            if checked.get("project") is not None and int(checked["project"]) != project_id:
                log.warning("annotation %s belongs to project %s in Label Studio, not %s; webhook ignored",
                            ann.id, checked["project"], project_id)
                continue
            task_id = int(checked.get("task") or task_id)  # Label Studio's word, not the webhook's
            raw = dict(checked, task=task_id)
        row = crud.upsert_annotation(session=session, project_id=project_id, annotation=raw, config=config)
        if task_id not in by_id and crud.get_tasks(session=session, task_ids=[task_id]) == {}:
            crud.upsert_tasks(session=session, project_id=project_id, tasks=[{"id": task_id, "data": {}}])
        if project is not None and project.model_version and row.predicted_version is None:
            found = crud.get_predictions(session=session, model_version=project.model_version, task_ids=[task_id])
            prediction = found.get(task_id)
            if prediction is not None:
                row.predicted_labels = list(prediction.labels)
                row.predicted_version = prediction.model_version
                session.add(row)
        changed += 1
    return changed


def apply_event(
    engine: Engine, event: WebhookEvent, *, puller: Puller | None = None, verifier: Verifier | None = None
) -> Applied:
    with session_scope(engine) as session:
        return _apply_in(session, event, puller=puller, verifier=verifier)


def _apply_in(
    session: Any, event: WebhookEvent, *, puller: Puller | None = None, verifier: Verifier | None = None
) -> Applied:
    applied = Applied()
    payload = WebhookPayload.model_validate(event.payload)
    project = crud.get_project(session=session, project_id=event.project_id)
    if project is None:
        crud.upsert_project(session=session, project_id=event.project_id,
                            label_config=(payload.project.label_config if payload.project else None) or "",
                            title=payload.project.title if payload.project else None)
        project = crud.get_project(session=session, project_id=event.project_id)
    config = _config(project)
    if event.action in (Action.ANNOTATION_CREATED, Action.ANNOTATION_UPDATED, Action.ANNOTATIONS_CREATED):
        applied.changed = _store_annotations(session, event.project_id, config, _as_list(payload.annotation),
                                             _as_list(payload.task), verifier)
    elif event.action == Action.ANNOTATIONS_DELETED:
        ids = [ref.id for ref in payload.annotations or []]
        applied.changed = crud.delete_annotations(session=session, annotation_ids=ids)
    elif event.action == Action.START_TRAINING:
        applied.force_train = True
        if puller is not None:
            applied.changed = _pull(session, event.project_id, config, puller)
    if applied.changed:
        session.execute(update(Project).where(col(Project.id) == event.project_id).values(
            annotations_since_train=Project.annotations_since_train + applied.changed))
    return applied


def _pull(session: Any, project_id: int, config: LabelConfig | None, puller: Puller) -> int:
    """Replace our copy of the project's annotations with Label Studio's (START_TRAINING)."""
    tasks = puller(project_id)
    crud.upsert_tasks(session=session, project_id=project_id, tasks=tasks)
    seen: set[int] = set()
    for task in tasks:
        for ann in task.get("annotations") or []:
            raw = dict(ann, task=task["id"])
            crud.upsert_annotation(session=session, project_id=project_id, annotation=raw, config=config)
            seen.add(int(ann["id"]))
    stale = [a.id for a in crud.list_annotations(session=session, project_id=project_id) if a.id not in seen]
    crud.delete_annotations(session=session, annotation_ids=stale)
    return len(seen) + len(stale)


def apply_pending(
    engine: Engine, project_id: int, *, puller: Puller | None = None, verifier: Verifier | None = None,
    max_events: int | None = None,
) -> Applied:
    """Apply the stored, unapplied events of ``project_id`` in arrival order (at most about ``max_events``,
    then ``more`` is set, so a worker under a steady stream still gets to retrain between rounds).

    Events go in batches of ``BATCH`` per transaction (applied and marked processed together, so a
    crash re-applies a whole batch or none of it; applying is idempotent). A batch that meets an error
    or an unreachable Label Studio is rolled back and replayed one event per transaction, which keeps
    the good events, records the bad one's error, and stops (in order) at a deferred one."""
    total = Applied()
    seen = 0
    while True:
        with session_scope(engine) as session:
            events = crud.pending_events(session=session, project_id=project_id, limit=BATCH)
        if not events:
            return total
        if max_events is not None and seen >= max_events:
            total.more = True
            return total
        seen += len(events)
        if len(events) > 1 and _apply_batch(engine, events, total, puller=puller, verifier=verifier):
            continue
        for event in events:
            error = None
            try:
                result = apply_event(engine, event, puller=puller, verifier=verifier)
                total.changed += result.changed
                total.force_train = total.force_train or result.force_train
            except RetryLater as exc:  # keep order: stop here, the worker retries later
                log.info("event %s (%s) deferred: %s", event.id, event.action, exc)
                total.errors.append(f"deferred: {exc}")
                total.deferred = True
                total.retry = exc
                return total
            except Exception as exc:  # noqa: BLE001 - keep the event, record why, go on
                log.exception("event %s (%s) could not be applied", event.id, event.action)
                error = f"{type(exc).__name__}: {exc}"[:2000]
                total.errors.append(error)
            with session_scope(engine) as session:
                row = session.get(WebhookEvent, event.id)
                if row is not None:
                    crud.mark_event_processed(session=session, event=row, error=error)


BATCH = 20  # short transactions: SQLite has one writer and webhook acks must stay well under 1 s


def _apply_batch(
    engine: Engine, events: list[WebhookEvent], total: Applied, *, puller: Puller | None, verifier: Verifier | None,
) -> bool:
    """Apply ``events`` in one transaction; False (nothing kept) when any of them fails or is deferred."""
    results: list[Applied] = []
    try:
        with session_scope(engine) as session:
            for event in events:
                results.append(_apply_in(session, event, puller=puller, verifier=verifier))
                row = session.get(WebhookEvent, event.id)
                if row is not None:
                    crud.mark_event_processed(session=session, event=row)
    except Exception as exc:  # noqa: BLE001 - replayed one by one, where each error is handled
        log.info("batch of %d events replayed one by one (%s: %s)", len(events), type(exc).__name__, exc)
        return False
    for result in results:
        total.changed += result.changed
        total.force_train = total.force_train or result.force_train
    return True
