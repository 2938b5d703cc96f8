"""Applying a run of annotation webhooks (created, updated, deleted) in bulk.

The run is planned in memory, in arrival order (a delete after a create of the same annotation wins,
a create after a delete makes a fresh row), its annotations are checked against Label Studio
concurrently (at most ``VERIFY_CONCURRENCY`` requests at once, each annotation once per run), and
then written in one short transaction: one INSERT .. ON CONFLICT per 500 annotations, one DELETE,
one UPDATE of the inbox rows. Network calls happen before that transaction, so SQLite's single
write lock is held only while rows are written and webhook acknowledgements wait milliseconds.

An event whose payload or Label Studio copy cannot be used gets its error recorded and the rest of
the run goes on; an unreachable Label Studio (:class:`RetryLater`) stops the run before the first
event it touched, which stays queued with everything after it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import Action, WebhookPayload
from labelsieve.service.inbox import Applied, Verifier, as_list, parsed_config
from labelsieve.storage import bulk, crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project, WebhookEvent

log = logging.getLogger(__name__)

BULK_ACTIONS = frozenset({Action.ANNOTATION_CREATED, Action.ANNOTATION_UPDATED, Action.ANNOTATIONS_CREATED,
                          Action.ANNOTATIONS_DELETED})
#: Label Studio requests in flight at once while checking a run's annotations
VERIFY_CONCURRENCY = 8


@dataclass
class _EventPlan:
    event_id: int
    stores: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (annotation id, webhook's dict)
    deletes: list[int] = field(default_factory=list)
    tasks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (task id, data)


def _plan(event: WebhookEvent) -> tuple[_EventPlan, WebhookPayload]:
    payload = WebhookPayload.model_validate(event.payload)
    assert event.id is not None
    plan = _EventPlan(event_id=event.id)
    if event.action == Action.ANNOTATIONS_DELETED:
        plan.deletes = [ref.id for ref in payload.annotations or []]
        return plan, payload
    tasks = as_list(payload.task)
    plan.tasks = [(task.id, dict(task.data or {})) for task in tasks]
    for ann in as_list(payload.annotation):
        raw = ann.model_dump(mode="json")
        raw["task"] = ann.task_id(tasks[0].id if len(tasks) == 1 else None)
        plan.stores.append((ann.id, raw))
    return plan, payload


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


def _checked(project_id: int, ann_id: int, raw: dict[str, Any], outcome: Any) -> dict[str, Any] | None:
    """The annotation dict to store after Label Studio's check; None when the webhook is ignored."""
    if outcome is None:
        log.warning("annotation %s is not in Label Studio; webhook ignored", ann_id)
        return None
    if outcome.get("project") is not None and int(outcome["project"]) != project_id:
        log.warning("annotation %s belongs to project %s in Label Studio, not %s; webhook ignored",
                    ann_id, outcome["project"], project_id)
        return None
    task_id = int(outcome.get("task") or raw["task"])  # Label Studio's word, not the webhook's
    return dict(outcome, task=task_id)


@dataclass
class _RunState:
    """The run's net effect, event by event: what sequential application would leave behind."""

    final: dict[int, dict[str, Any] | None] = field(default_factory=dict)  # columns, or None when deleted
    deleted: set[int] = field(default_factory=set)  # deleted at some point in the run
    fresh: set[int] = field(default_factory=set)  # stored after a delete: a new row
    counted_deletes: set[int] = field(default_factory=set)  # first touched by a delete: counted if in the DB
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    changed: int = 0

    def store(self, columns: dict[str, Any]) -> None:
        ann_id = columns["id"]
        if ann_id in self.deleted:
            self.fresh.add(ann_id)
        self.final[ann_id] = columns
        self.changed += 1

    def delete(self, ann_id: int) -> None:
        if ann_id not in self.final:
            self.counted_deletes.add(ann_id)
        elif self.final[ann_id] is not None:
            self.changed += 1
        self.final[ann_id] = None
        self.deleted.add(ann_id)
        self.fresh.discard(ann_id)

    def add_task(self, task_id: int, data: dict[str, Any], *, first_wins: bool) -> None:
        if task_id not in self.tasks or (data and not (first_wins and self.tasks[task_id])):
            self.tasks[task_id] = data


def apply_run(engine: Engine, events: list[WebhookEvent], *, verifier: Verifier | None) -> Applied:
    """Apply ``events`` (one project's, in arrival order, every action in ``BULK_ACTIONS``) in one
    write transaction; see the module docstring for errors and deferral."""
    project_id = events[0].project_id
    applied = Applied()
    errors: dict[int, str] = {}
    plans: list[_EventPlan | None] = []
    first_payload: WebhookPayload | None = None
    for event in events:
        try:
            plan, payload = _plan(event)
            plans.append(plan)
            first_payload = first_payload or payload
        except Exception as exc:  # noqa: BLE001 - keep the event, record why, go on
            log.exception("event %s (%s) could not be applied", event.id, event.action)
            errors[event.id] = f"{type(exc).__name__}: {exc}"[:2000]  # type: ignore[index]
            plans.append(None)
    outcomes: dict[int, Any] = {}
    if verifier is not None:
        unique = {ann_id: raw for plan in plans if plan for ann_id, raw in plan.stores}
        outcomes = verify_all(verifier, project_id, unique)
    with session_scope(engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        known = crud.get_tasks(session=session, task_ids=list({t for p in plans if p for t, _ in p.tasks})) \
            if verifier is not None else {}
    label_config = project.label_config if project is not None else (
        (first_payload.project.label_config if first_payload and first_payload.project else None) or "")
    config = parsed_config(label_config)
    state = _RunState()
    done: list[int] = []
    for event, plan in zip(events, plans, strict=True):
        if plan is not None:
            deferral = next((outcomes[a] for a, _ in plan.stores if isinstance(outcomes.get(a), RetryLater)), None)
            if deferral is not None:  # keep order: this event and every later one wait for Label Studio
                real = next((o for o in outcomes.values() if isinstance(o, RetryLater)
                             and not str(o).startswith("not checked")), deferral)
                log.info("event %s (%s) deferred: %s", event.id, event.action, real)  # the wait board warns
                applied.errors.append(f"deferred: {real}")
                applied.deferred = True
                applied.retry = real if isinstance(real, RetryLater) else RetryLater(str(real))
                break
            try:
                _add_event(state, plan, outcomes, project_id, config, known, verified=verifier is not None)
            except Exception as exc:  # noqa: BLE001 - keep the event, record why, go on
                log.exception("event %s (%s) could not be applied", event.id, event.action)
                errors[plan.event_id] = f"{type(exc).__name__}: {exc}"[:2000]
        done.append(event.id)  # type: ignore[arg-type]
    errors = {event_id: error for event_id, error in errors.items() if event_id in set(done)}
    applied.errors.extend(errors.values())
    if not done:
        return applied
    model_version = project.model_version if project else ""
    _add_predictions(engine, project_id, model_version, state)  # read before the write lock
    with session_scope(engine) as session:
        if project is None:
            crud.upsert_project(session=session, project_id=project_id, label_config=label_config,
                                title=first_payload.project.title if first_payload and first_payload.project
                                else None)
        applied.changed = _write(session, project_id, state)
        if applied.changed:
            session.execute(update(Project).where(col(Project.id) == project_id).values(
                annotations_since_train=Project.annotations_since_train + applied.changed))
        bulk.mark_events_processed(session=session, event_ids=done, errors=errors)
    return applied


def _add_event(state: _RunState, plan: _EventPlan, outcomes: dict[int, Any], project_id: int,
               config: LabelConfig | None, known: dict[int, Any], *, verified: bool) -> None:
    """Fold one event into the run's state, all or nothing (an error leaves ``state`` untouched)."""
    columns: list[dict[str, Any]] = []
    for ann_id, raw in plan.stores:
        outcome = outcomes.get(ann_id, raw) if verified else raw
        if isinstance(outcome, Exception):
            raise outcome
        checked = _checked(project_id, ann_id, raw, outcome) if verified else raw
        if checked is not None:
            columns.append(crud.annotation_columns(annotation=checked, config=config))
    # an unverified webhook may fill in a task we lack, never overwrite one we have
    tasks = [(t, d) for t, d in plan.tasks if not verified or t not in known or not known[t].data]
    for task_id, data in tasks:
        state.add_task(task_id, data, first_wins=verified)
    for row in columns:
        state.store(row)
        state.add_task(row["task_id"], {}, first_wins=verified)
    for ann_id in plan.deletes:
        state.delete(ann_id)


def _add_predictions(engine: Engine, project_id: int, model_version: str, state: _RunState) -> None:
    """What the serving model predicted for each stored annotation's task (the prequential record)."""
    rows = [row for row in state.final.values() if row is not None]
    predictions = {}
    if model_version and rows:
        with session_scope(engine) as session:
            predictions = rankings.lookup(session=session, project_id=project_id, version=model_version,
                                          task_ids=[row["task_id"] for row in rows])
    for row in rows:
        prediction = predictions.get(row["task_id"])
        row["predicted_labels"] = list(prediction.labels) if prediction is not None else None
        row["predicted_version"] = prediction.model_version if prediction is not None else None


def _write(session: Any, project_id: int, state: _RunState) -> int:
    """Write the run's net effect; the number of annotations changed (as sequential application counts)."""
    crud.upsert_tasks(session=session, project_id=project_id,
                      tasks=[{"id": t, "data": d} for t, d in state.tasks.items()])
    changed = state.changed + crud.delete_annotations(session=session, annotation_ids=sorted(state.counted_deletes))
    gone = {a for a, row in state.final.items() if row is None} | state.fresh
    crud.delete_annotations(session=session, annotation_ids=sorted(gone - state.counted_deletes))
    bulk.upsert_annotations(session=session, project_id=project_id,
                            rows=[row for row in state.final.values() if row is not None])
    return changed
