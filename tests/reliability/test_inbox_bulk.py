"""The bulk inbox applier against the one-event-per-transaction path it replaces: same rows, same order
semantics (a delete after a create wins, a create after a delete is a fresh row), a bad event recorded
without losing the rest, an unreachable Label Studio stopping the batch in order, bounded concurrent checks."""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import delete, update

from labelsieve.labelstudio.errors import RetryLater
from labelsieve.labelstudio.protocol import WebhookPayload
from labelsieve.service.changes import VERIFY_CONCURRENCY
from labelsieve.service.container import build_service
from labelsieve.service.events import _apply_one_by_one, accept, apply_pending
from labelsieve.service.inbox import Applied
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Annotation, Project, Task, WebhookEvent
from tests.factories import TEXT_CONFIG, annotation_event, ls_task

P = 5


def _event(ann_id: int, choice: str, action: str = "ANNOTATION_CREATED", text: str | None = None) -> dict:
    task = ls_task(100 + ann_id, {"text": text} if text is not None else {}, P)
    return annotation_event(action, annotation_id=ann_id, task=task, project_id=P, config=TEXT_CONFIG,
                            from_name="sentiment", to_name="text", choice=choice)


def _deleted(*ids: int) -> dict:
    return {"action": "ANNOTATIONS_DELETED", "project": {"id": P}, "annotations": [{"id": i} for i in ids]}


def _random_events(rng: np.random.Generator, n: int) -> list[dict]:
    events = []
    for _ in range(n):
        ann_id = int(rng.integers(1, 12))
        kind = rng.choice(["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "delete"], p=[0.4, 0.3, 0.3])
        if kind == "delete":
            events.append(_deleted(ann_id, int(rng.integers(1, 12))))
        else:
            text = None if rng.random() < 0.3 else f"text {int(rng.integers(0, 3))}"
            events.append(_event(ann_id, str(rng.choice(["Positive", "Negative"])), str(kind), text))
    return events


def _snapshot(engine) -> tuple:
    with session_scope(engine) as session:
        rows = [(a.id, a.task_id, a.labels, a.result, a.predicted_labels, a.predicted_version)
                for a in crud.list_annotations(session=session, project_id=P)]
        tasks = {t: row.data for t, row in crud.get_tasks(session=session, task_ids=range(100, 113)).items()}
        since = crud.get_project(session=session, project_id=P).annotations_since_train
        errors = [e.error for e in session.query(WebhookEvent).order_by(WebhookEvent.id)]
    return rows, tasks, since, errors


def _reset(engine) -> None:
    with session_scope(engine) as session:
        session.execute(delete(Annotation))
        session.execute(delete(Task).where(Task.id >= 100))
        session.execute(update(WebhookEvent).values(processed_at=None, error=None))
        session.execute(update(Project).values(annotations_since_train=0))


def test_bulk_apply_leaves_what_one_event_per_transaction_leaves(settings_factory) -> None:
    service = build_service(settings_factory(start_workers=False))
    try:
        service.loop.setup_project(project_id=P, label_config=TEXT_CONFIG)
        with session_scope(service.engine) as session:  # a serving model whose predictions get recorded
            crud.set_serving_version(session=session, project_id=P, version="v1")
            crud.save_predictions(session=session, rows=[
                {"project_id": P, "task_id": 100 + i, "model_version": "v1", "labels": ["Negative"]}
                for i in range(1, 12, 2)])
        for event in _random_events(np.random.default_rng(3), 120):
            accept(service.engine, WebhookPayload.model_validate(event))
        with session_scope(service.engine) as session:
            events = crud.pending_events(session=session, project_id=P, limit=1000)
        # webhooks trusted as sent / checked (first data wins)
        for verifier in (None, service.gateway.verify_annotation):
            _reset(service.engine)
            one_by_one = Applied()
            _apply_one_by_one(service.engine, events, one_by_one, puller=None, verifier=verifier)
            expected = _snapshot(service.engine)
            _reset(service.engine)
            bulk = apply_pending(service.engine, P, verifier=verifier)
            assert _snapshot(service.engine) == expected
            assert bulk.changed == one_by_one.changed and bulk.errors == one_by_one.errors == []
            assert any(row[4] == ["Negative"] for row in expected[0]), "the prequential record was exercised"
    finally:
        service.stop()


def test_a_bad_event_records_its_error_and_the_rest_of_the_batch_is_applied(settings_factory) -> None:
    service = build_service(settings_factory(start_workers=False))
    try:
        service.loop.setup_project(project_id=P, label_config=TEXT_CONFIG)
        accept(service.engine, WebhookPayload.model_validate(_event(1, "Positive", text="a")))
        with session_scope(service.engine) as session:  # stored by an older version: no task to say where
            bad = _event(2, "Negative")
            bad["annotation"].pop("task")
            bad["task"] = [ls_task(7, {}, P), ls_task(8, {}, P)]
            crud.add_event(session=session, project_id=P, action="ANNOTATION_CREATED", payload=bad)
        accept(service.engine, WebhookPayload.model_validate(_event(3, "Negative", text="c")))
        applied = apply_pending(service.engine, P)
        rows, _, since, errors = _snapshot(service.engine)
        assert [r[0] for r in rows] == [1, 3] and since == 2 and applied.changed == 2
        assert errors[0] is None and errors[2] is None
        assert "annotation 2 does not say which task it belongs to" in errors[1]
        with session_scope(service.engine) as session:
            assert crud.count_pending_events(session=session) == 0
    finally:
        service.stop()


def test_an_unreachable_label_studio_stops_the_batch_in_order(settings_factory) -> None:
    service = build_service(settings_factory(start_workers=False))
    down = {4}

    def verifier(_project_id: int, annotation: dict) -> dict | None:
        if annotation["id"] in down:
            raise RetryLater("Label Studio at http://ls.invalid is unreachable: ConnectError")
        return annotation

    try:
        service.loop.setup_project(project_id=P, label_config=TEXT_CONFIG)
        for event in [_event(1, "Positive"), _event(2, "Positive"), _deleted(1), _event(4, "Negative"),
                      _deleted(2), _event(5, "Negative")]:
            accept(service.engine, WebhookPayload.model_validate(event))
        first = apply_pending(service.engine, P, verifier=verifier)
        assert first.deferred and "unreachable" in first.errors[-1]
        assert [r[0] for r in _snapshot(service.engine)[0]] == [2], "applied up to the deferred event, in order"
        with session_scope(service.engine) as session:
            assert [e.action for e in crud.pending_events(session=session, project_id=P)] == [
                "ANNOTATION_CREATED", "ANNOTATIONS_DELETED", "ANNOTATION_CREATED"]
        down.clear()
        rest = apply_pending(service.engine, P, verifier=verifier)
        assert not rest.deferred and [r[0] for r in _snapshot(service.engine)[0]] == [4, 5]
    finally:
        service.stop()


def test_label_studio_checks_run_concurrently_within_the_bound_and_once_per_annotation(settings_factory) -> None:
    service = build_service(settings_factory(start_workers=False))
    barrier = threading.Barrier(VERIFY_CONCURRENCY, timeout=30)  # breaks unless 8 checks are in flight at once
    lock, in_flight, peak, calls = threading.Lock(), [0], [0], []

    def verifier(_project_id: int, annotation: dict) -> dict | None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            calls.append(annotation["id"])
        barrier.wait()
        with lock:
            in_flight[0] -= 1
        return annotation

    try:
        service.loop.setup_project(project_id=P, label_config=TEXT_CONFIG)
        for ann_id in range(1, 4 * VERIFY_CONCURRENCY + 1):
            accept(service.engine, WebhookPayload.model_validate(_event(ann_id, "Positive")))
            accept(service.engine, WebhookPayload.model_validate(_event(ann_id, "Negative", "ANNOTATION_UPDATED")))
        applied = apply_pending(service.engine, P, verifier=verifier)
        assert applied.errors == [] and applied.changed == 8 * VERIFY_CONCURRENCY
        assert sorted(calls) == list(range(1, 4 * VERIFY_CONCURRENCY + 1)), "each annotation checked once"
        assert peak[0] == VERIFY_CONCURRENCY
        assert {r[2][0] for r in _snapshot(service.engine)[0]} == {"Negative"}, "the update is what stays"
    finally:
        service.stop()
