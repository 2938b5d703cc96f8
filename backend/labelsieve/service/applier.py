"""The one webhook applier: the service's inbox, the simulation and the headless loop all store labels here.

Every source becomes a list of :class:`Change` (what one webhook event, or one Label Studio export, asks for): the
service's inbox events and the simulation's oracle answers through :func:`apply_events`, the headless loop's and the
first contact's exports through :func:`apply_export`. A list of changes is planned in memory, in arrival order (a
delete after a create of the same annotation wins, a create after a delete makes a fresh row); webhook annotations
are checked against Label Studio concurrently (at most ``VERIFY_CONCURRENCY`` requests at once, each annotation once
per run); what the serving model predicted for each task (the prequential record) and the regions the project's task
type refuses (:meth:`TaskType.rejected_regions`) are read; then everything is written in one short transaction:
one INSERT .. ON CONFLICT per 500 annotations, one DELETE, the refused regions, the retrain counter, the inbox rows.
Network calls happen before that transaction, so SQLite's single write lock is held only while rows are written.

An event whose payload or Label Studio copy cannot be used gets its error recorded and the rest of the run goes on;
an unreachable Label Studio (:class:`RetryLater`) stops the run before the first event it touched, which stays
queued with everything after it. A region the task type refuses does not stop its annotation: the annotation is
stored whole and each refused region is recorded with its reason (``crud.latest_rejected_regions``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import Action, WebhookPayload
from labelsieve.service.changes import Change, export_change, plan_event, verify_all
from labelsieve.service.inbox import Applied, Puller, Verifier, served_config
from labelsieve.storage import bulk, crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import WebhookEvent
from labelsieve.tasktypes import ServedConfig

log = logging.getLogger(__name__)

#: actions applied together in one run; any other action (task deletion, training request) is a run of its own
RUN_ACTIONS = frozenset({Action.ANNOTATION_CREATED, Action.ANNOTATION_UPDATED, Action.ANNOTATIONS_CREATED,
                         Action.ANNOTATIONS_DELETED, Action.TASKS_CREATED})


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
    """The run's net effect, change by change: what applying the changes one at a time would leave behind."""

    final: dict[int, dict[str, Any] | None] = field(default_factory=dict)  # columns, or None when deleted
    deleted: set[int] = field(default_factory=set)  # deleted at some point in the run
    fresh: set[int] = field(default_factory=set)  # stored after a delete: a new row
    counted_deletes: set[int] = field(default_factory=set)  # first touched by a delete: counted if in the DB
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    task_deletes: list[int] = field(default_factory=list)
    rejected: dict[int, tuple[int, list[tuple[str, str]]]] = field(default_factory=dict)
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


def apply_events(engine: Engine, events: list[WebhookEvent], *, verifier: Verifier | None = None,
                 puller: Puller | None = None) -> Applied:
    """Apply ``events`` (one project's, in arrival order: every action in ``RUN_ACTIONS``, or one event of another
    action) in one write transaction, marking the stored ones processed with it; see the module docstring.

    ``verifier`` checks webhook annotations against Label Studio; ``puller`` serves START_TRAINING (our copy of the
    project's annotations replaced by Label Studio's)."""
    if len(events) > 1 and any(event.action not in RUN_ACTIONS for event in events):
        raise ValueError(f"only {sorted(RUN_ACTIONS)} are applied together; apply other events one at a time")
    project_id = events[0].project_id
    applied = Applied()
    errors: dict[int, str] = {}  # position in ``events`` -> error
    changes: list[Change | None] = []
    first_payload: WebhookPayload | None = None
    for position, event in enumerate(events):
        try:
            change, payload = plan_event(event)
            if change.force_train and puller is not None:
                change = _pulled(engine, project_id, puller)
            changes.append(change)
            first_payload = first_payload or payload
        except RetryLater:  # the pull could not reach Label Studio: the event waits
            raise
        except Exception as exc:  # noqa: BLE001 - keep the event, record why, go on
            log.exception("event %s (%s) could not be applied", event.id, event.action)
            errors[position] = f"{type(exc).__name__}: {exc}"[:2000]
            changes.append(None)
    outcomes: dict[int, Any] = {}
    if verifier is not None:
        unique = {ann_id: raw for change in changes if change and not change.exported for ann_id, raw in change.stores}
        outcomes = verify_all(verifier, project_id, unique)
    label_config = (first_payload.project.label_config if first_payload and first_payload.project else None) or ""
    title = first_payload.project.title if first_payload and first_payload.project else None
    state, done = _fold(engine, project_id, changes, outcomes, applied, errors, label_config,
                        verified=verifier is not None, events=events)
    applied.errors.extend(error for position, error in sorted(errors.items()) if position in done)
    applied.force_train = any(change is not None and change.force_train
                              for position, change in enumerate(changes) if position in done)
    if not done:
        return applied
    stored = {position: errors.get(position) for position in done if events[position].id is not None}
    applied.changed = _commit(engine, project_id, state, label_config=label_config, title=title,
                              processed={events[p].id: e for p, e in stored.items()})  # type: ignore[misc]
    return applied


def apply_export(engine: Engine, project_id: int, tasks: list[dict[str, Any]], *, replace: str | None = None) -> int:
    """Store a Label Studio export (tasks with their ``annotations``: the first contact, the headless loop) through
    the same rules as the webhooks. ``replace="tasks"``: annotations labelsieve holds for these tasks and the
    export lacks are deleted; ``replace="project"``: every stored annotation of the project the export lacks.
    Returns how many annotations were stored or deleted (counted toward the next retrain)."""
    present = {int(a["id"]) for t in tasks for a in t.get("annotations") or []}
    gone: set[int] = set()
    if replace is not None:
        with session_scope(engine) as session:
            if replace == "project":
                held = {a.id for a in crud.list_annotations(session=session, project_id=project_id)}
            else:
                held = crud.annotation_ids_of_tasks(session=session, task_ids=[int(t["id"]) for t in tasks])
        gone = held - present
    errors: dict[int, str] = {}
    state, _ = _fold(engine, project_id, [export_change(tasks, gone=gone)], {}, Applied(), errors, "",
                     verified=False, events=None)
    if errors:
        raise ValueError(errors[0])
    return _commit(engine, project_id, state, label_config="", title=None, processed={})


def _pulled(engine: Engine, project_id: int, puller: Puller) -> Change:
    """START_TRAINING: Label Studio's copy of the project replaces ours."""
    tasks = puller(project_id)
    with session_scope(engine) as session:
        held = {a.id for a in crud.list_annotations(session=session, project_id=project_id)}
    change = export_change(tasks, gone=held - {int(a["id"]) for t in tasks for a in t.get("annotations") or []})
    change.force_train = True
    return change


def _fold(engine: Engine, project_id: int, changes: list[Change | None], outcomes: dict[int, Any], applied: Applied,
          errors: dict[int, str], label_config: str, *, verified: bool,
          events: list[WebhookEvent] | None) -> tuple[_RunState, set[int]]:
    """Fold the changes into one state, in order, until a deferred one; the positions folded (errors included)."""
    referenced = {t for c in changes if c for t, _ in c.tasks} | {int(raw["task"]) for c in changes if c
                                                                  for _, raw in c.stores}
    referenced |= {int(o["task"]) for o in outcomes.values() if isinstance(o, dict) and o.get("task") is not None}
    with session_scope(engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        known = crud.get_tasks(session=session, task_ids=sorted(referenced))
        session.expunge_all()
    served = served_config(project.label_config if project is not None else label_config)
    state = _RunState()
    done: set[int] = set()
    for position, change in enumerate(changes):
        if change is not None:
            deferral = next((outcomes[a] for a, _ in change.stores
                             if not change.exported and isinstance(outcomes.get(a), RetryLater)), None)
            if deferral is not None:  # keep order: this event and every later one wait for Label Studio
                real = next((o for o in outcomes.values() if isinstance(o, RetryLater)
                             and not str(o).startswith("not checked")), deferral)
                event = events[position] if events else None
                log.info("event %s (%s) deferred: %s", event and event.id, event and event.action, real)
                applied.errors.append(f"deferred: {real}")  # the wait board warns
                applied.deferred = True
                applied.retry = real if isinstance(real, RetryLater) else RetryLater(str(real))
                break
            try:
                _add_change(state, change, outcomes, project_id, served, known, verified=verified)
            except Exception as exc:  # noqa: BLE001 - keep the event, record why, go on
                event = events[position] if events else None
                log.exception("event %s (%s) could not be applied", event and event.id, event and event.action)
                errors[position] = f"{type(exc).__name__}: {exc}"[:2000]
        done.add(position)
    _add_predictions(engine, project_id, project.model_version if project else "", state)
    return state, done


def _add_change(state: _RunState, change: Change, outcomes: dict[int, Any], project_id: int,
                served: ServedConfig | None, known: dict[int, Any], *, verified: bool) -> None:
    """Fold one change into the run's state, all or nothing (an error leaves ``state`` untouched)."""
    checking = verified and not change.exported
    columns: list[dict[str, Any]] = []
    config = served.config if served is not None else None
    for ann_id, raw in change.stores:
        outcome = outcomes.get(ann_id, raw) if checking else raw
        if isinstance(outcome, Exception):
            raise outcome
        checked = _checked(project_id, ann_id, raw, outcome) if checking else raw
        if checked is not None:
            columns.append(crud.annotation_columns(annotation=checked, config=config))
    # an unverified webhook may fill in a task we lack, never overwrite one we have
    tasks = [(t, d) for t, d in change.tasks if not checking or t not in known or not known[t].data]
    for task_id, data in tasks:
        state.add_task(task_id, data, first_wins=checking)
    for row in columns:
        state.store(row)
        state.add_task(row["task_id"], {}, first_wins=checking)
        if served is not None:  # checked against the task's data as known when the annotation arrives
            stored = known.get(row["task_id"])
            data = state.tasks.get(row["task_id"]) or (dict(stored.data or {}) if stored is not None else None)
            refused = served.task_type.rejected_regions(row["result"], served.config, data or None)
            state.rejected[row["id"]] = (row["task_id"], [(r.region, r.reason) for r in refused])
    for ann_id in change.deletes:
        state.delete(ann_id)
    state.task_deletes.extend(change.task_deletes)


def _add_predictions(engine: Engine, project_id: int, model_version: str, state: _RunState) -> None:
    """What the serving model predicted for each stored annotation's task (the prequential record), read before
    the write lock."""
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


def _commit(engine: Engine, project_id: int, state: _RunState, *, label_config: str, title: str | None,
            processed: dict[int, str | None]) -> int:
    """Write the run's net effect, count it toward the next retrain and mark the stored events processed; the
    number of annotations changed (as applying the changes one at a time counts them)."""
    with session_scope(engine) as session:
        if crud.get_project(session=session, project_id=project_id) is None:
            crud.upsert_project(session=session, project_id=project_id, label_config=label_config, title=title)
        crud.delete_tasks(session=session, project_id=project_id, task_ids=state.task_deletes)
        crud.upsert_tasks(session=session, project_id=project_id,
                          tasks=[{"id": t, "data": d} for t, d in state.tasks.items()])
        changed = state.changed + crud.delete_annotations(session=session,
                                                          annotation_ids=sorted(state.counted_deletes))
        gone = {a for a, row in state.final.items() if row is None} | state.fresh
        crud.delete_annotations(session=session, annotation_ids=sorted(gone - state.counted_deletes))
        bulk.upsert_annotations(session=session, project_id=project_id,
                                rows=[row for row in state.final.values() if row is not None])
        crud.replace_rejected_regions(session=session, project_id=project_id, by_annotation={
            ann_id: found for ann_id, found in state.rejected.items() if state.final.get(ann_id) is not None})
        crud.add_annotations_since_train(session=session, project_id=project_id, count=changed)
        if processed:
            bulk.mark_events_processed(session=session, event_ids=list(processed),
                                       errors={e: error for e, error in processed.items() if error is not None})
    return changed
