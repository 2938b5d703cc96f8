"""Webhook intake and the inbox's order.

``accept`` validates a webhook and writes it to the inbox table in one short transaction, so
the HTTP acknowledgement is fast and durable: an acknowledged event survives a crash.
``apply_pending`` (run by the worker) hands the inbox rows, in order, to the one applier
(:mod:`labelsieve.service.applier`), which turns them into task/annotation rows.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import HANDLED_ACTIONS, Action, WebhookPayload
from labelsieve.service.applier import RUN_ACTIONS, apply_events
from labelsieve.service.inbox import Applied, Puller, Verifier, as_list
from labelsieve.service.intake import GroupCommit
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import WebhookEvent

log = logging.getLogger(__name__)

__all__ = ["Applied", "Puller", "Verifier", "accept", "accept_async", "apply_pending", "validate"]


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


def accept(engine: Engine, payload: WebhookPayload, *, intake: GroupCommit | None = None) -> WebhookEvent | None:
    """Store a handled event in the inbox (committed when this returns); return None for actions we ignore.
    With ``intake`` the commit is shared with the webhooks that arrive at the same time (group commit)."""
    row = _inbox_row(payload)
    if row is None:
        return None
    project_id, stored = row
    if intake is not None:
        return intake.submit(project_id=project_id, action=payload.action, payload=stored)
    with session_scope(engine) as session:
        return crud.add_event(session=session, project_id=project_id, action=payload.action, payload=stored)


async def accept_async(payload: WebhookPayload, intake: GroupCommit) -> WebhookEvent | None:
    """``accept`` through the group commit, for an async route (no thread of the pool waits on the commit)."""
    row = _inbox_row(payload)
    if row is None:
        return None
    project_id, stored = row
    return await intake.submit_async(project_id=project_id, action=payload.action, payload=stored)


def _inbox_row(payload: WebhookPayload) -> tuple[int, dict[str, object]] | None:
    """(project, stored payload) of a handled event, None for an ignored action; :class:`EventError` if invalid."""
    if payload.action not in HANDLED_ACTIONS:
        return None
    return validate(payload), payload.model_dump(mode="json", exclude_none=True)


def apply_pending(
    engine: Engine, project_id: int, *, puller: Puller | None = None, verifier: Verifier | None = None,
    max_events: int | None = None,
) -> Applied:
    """Apply the stored, unapplied events of ``project_id`` in arrival order (at most about ``max_events``,
    then ``more`` is set, so a worker under a steady stream still gets to retrain between rounds). With
    ``max_events`` it also returns once it has caught up with the inbox (a read found fewer than ``BATCH``
    events, all applied): events that arrive meanwhile are the worker's next step, not this one's.

    Up to ``BATCH`` annotation and task-creation events at a time are applied together
    (:func:`labelsieve.service.applier.apply_events`: one write transaction, applied and marked processed
    together, so a crash re-applies a whole batch or none of it; applying is idempotent). A START_TRAINING or
    TASKS_DELETED event is applied on its own. Should a run's write fail, its events are replayed one per
    transaction, which keeps the good events, records the bad one's error, and stops (in order) at a deferred
    one."""
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
            if event.action not in RUN_ACTIONS:
                break
            run.append(event)
        seen += len(run) or 1
        if not run:
            _apply_one_by_one(engine, events[:1], total, puller=puller, verifier=verifier)
        else:
            try:
                total.add(apply_events(engine, run, verifier=verifier, puller=puller))
            except Exception as exc:  # noqa: BLE001 - replayed one by one, where each error is handled
                log.warning("bulk apply of %d events failed (%s: %s); replaying them one by one", len(run),
                            type(exc).__name__, exc)
                _apply_one_by_one(engine, run, total, puller=puller, verifier=verifier)
        if total.deferred or (max_events is not None and len(run) == len(events) < BATCH):
            return total


BATCH = 500  # events per bulk write: a few tens of milliseconds of SQLite's write lock


def _apply_one_by_one(
    engine: Engine, events: list[WebhookEvent], total: Applied, *, puller: Puller | None, verifier: Verifier | None,
) -> None:
    """One transaction per event (the applier, on a run of one); stops at (and keeps) the first deferred event,
    setting ``total.deferred``. An event whose write fails is marked processed with its error."""
    for event in events:
        error = None
        try:
            applied = apply_events(engine, [event], puller=puller, verifier=verifier)
            total.add(applied)
            if applied.deferred:
                return
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
        if error is not None:  # the applier marked it otherwise, in its own write
            with session_scope(engine) as session:
                row = session.get(WebhookEvent, event.id)
                if row is not None:
                    crud.mark_event_processed(session=session, event=row, error=error)
