"""Webhook intake and application.

``accept`` validates a webhook and writes it to the inbox table in one short transaction, so
the HTTP acknowledgement is fast and durable: an acknowledged event survives a crash.
``apply_pending`` (run by the worker) turns inbox rows into task/annotation rows, in order.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import HANDLED_ACTIONS, Action, LSAnnotation, LSTask, WebhookPayload
from labelsieve.service.bulk_apply import BULK_ACTIONS, apply_run
from labelsieve.service.inbox import Applied, Puller, Verifier, as_list, parsed_config
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project, WebhookEvent

log = logging.getLogger(__name__)

__all__ = ["Applied", "Puller", "Verifier", "accept", "apply_event", "apply_pending", "store_annotated", "validate"]


class EventError(ValueError):
    """The webhook payload lacks what its action needs; the message says what."""


def project_id_of(payload: WebhookPayload) -> int | None:
    if payload.project is not None:
        return payload.project.id
    for ann in as_list(payload.annotation):
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
        annotations = as_list(payload.annotation)
        if not annotations:
            raise EventError(f"{action} needs an 'annotation' object")
        tasks = as_list(payload.task)
        for ann in annotations:
            fallback = tasks[0].id if len(tasks) == 1 else None
            try:
                ann.task_id(fallback)
            except ValueError as exc:
                raise EventError(str(exc)) from exc
    elif action == Action.ANNOTATIONS_DELETED and not payload.annotations:
        raise EventError("ANNOTATIONS_DELETED needs an 'annotations' list of {id}")
    elif action in (Action.TASKS_CREATED, Action.TASKS_DELETED) and payload.tasks is None:
        raise EventError(f"{action} needs a 'tasks' list")
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
    return parsed_config(project.label_config) if project is not None else None


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
            found = rankings.lookup(session=session, project_id=project_id, version=project.model_version,
                                    task_ids=[task_id])
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
        applied.changed = _store_annotations(session, event.project_id, config, as_list(payload.annotation),
                                             as_list(payload.task), verifier)
    elif event.action == Action.ANNOTATIONS_DELETED:
        ids = [ref.id for ref in payload.annotations or []]
        applied.changed = crud.delete_annotations(session=session, annotation_ids=ids)
    elif event.action == Action.TASKS_CREATED:  # new tasks join the pool of the next ranking
        crud.upsert_tasks(session=session, project_id=event.project_id,
                          tasks=[{"id": t.id, "data": t.data or {}} for t in payload.tasks or []])
    elif event.action == Action.TASKS_DELETED:
        crud.delete_tasks(session=session, project_id=event.project_id,
                          task_ids=[t.id for t in payload.tasks or []])
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


def store_annotated(session: Any, project_id: int, label_config: str, tasks: list[dict[str, Any]], *,
                    replace: bool = False) -> int:
    """Store exported tasks with their annotations (first contact, the headless loop): tasks and annotations are
    upserted; with ``replace`` the annotations labelsieve holds for these tasks and the export lacks are deleted.
    What changed counts as new for the next retrain. Returns how many annotations were stored or deleted."""
    config = parsed_config(label_config) if label_config else None
    crud.upsert_tasks(session=session, project_id=project_id,
                      tasks=[{"id": int(t["id"]), "data": t.get("data") or {}} for t in tasks])
    stored = 0
    present: set[int] = set()
    for task in tasks:
        for ann in task.get("annotations") or []:
            crud.upsert_annotation(session=session, project_id=project_id, annotation=dict(ann, task=task["id"]),
                                   config=config)
            present.add(int(ann["id"]))
            stored += 1
    if replace:
        gone = crud.annotation_ids_of_tasks(session=session, task_ids=[int(t["id"]) for t in tasks]) - present
        stored += crud.delete_annotations(session=session, annotation_ids=sorted(gone))
    if stored:
        session.execute(update(Project).where(col(Project.id) == project_id).values(
            annotations_since_train=Project.annotations_since_train + stored))
    return stored


def apply_pending(
    engine: Engine, project_id: int, *, puller: Puller | None = None, verifier: Verifier | None = None,
    max_events: int | None = None,
) -> Applied:
    """Apply the stored, unapplied events of ``project_id`` in arrival order (at most about ``max_events``,
    then ``more`` is set, so a worker under a steady stream still gets to retrain between rounds).

    Up to ``BATCH`` annotation events (created, updated, deleted) at a time are applied in bulk
    (:mod:`labelsieve.service.bulk_apply`: one write transaction, applied and marked processed together,
    so a crash re-applies a whole batch or none of it; applying is idempotent). A START_TRAINING event
    is applied on its own. Should a bulk write fail, its events are replayed one per transaction, which
    keeps the good events, records the bad one's error, and stops (in order) at a deferred one."""
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
        run = []
        for event in events:
            if event.action not in BULK_ACTIONS:
                break
            run.append(event)
        seen += len(run) or 1
        if not run:
            _apply_one_by_one(engine, events[:1], total, puller=puller, verifier=verifier)
        else:
            try:
                total.add(apply_run(engine, run, verifier=verifier))
            except Exception as exc:  # noqa: BLE001 - replayed one by one, where each error is handled
                log.warning("bulk apply of %d events failed (%s: %s); replaying them one by one", len(run),
                            type(exc).__name__, exc)
                _apply_one_by_one(engine, run, total, puller=puller, verifier=verifier)
        if total.deferred:
            return total


BATCH = 500  # events per bulk write: a few tens of milliseconds of SQLite's write lock


def _apply_one_by_one(
    engine: Engine, events: list[WebhookEvent], total: Applied, *, puller: Puller | None, verifier: Verifier | None,
) -> None:
    """One transaction per event; stops at (and keeps) the first deferred event, setting ``total.deferred``."""
    for event in events:
        error = None
        try:
            total.add(apply_event(engine, event, puller=puller, verifier=verifier))
        except RetryLater as exc:  # keep order: stop here, the worker retries later
            log.info("event %s (%s) deferred: %s", event.id, event.action, exc)  # the wait board warns
            total.errors.append(f"deferred: {exc}")
            total.deferred = True
            total.retry = exc
            return
        except Exception as exc:  # noqa: BLE001 - keep the event, record why, go on
            log.exception("event %s (%s) could not be applied", event.id, event.action)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            total.errors.append(error)
        with session_scope(engine) as session:
            row = session.get(WebhookEvent, event.id)
            if row is not None:
                crud.mark_event_processed(session=session, event=row, error=error)
