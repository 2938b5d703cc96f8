"""One webhook applier for the service, the simulation and the headless loop: on seeded random event sequences
(annotations created, updated, deleted, repeated, out of order; tasks created and deleted; malformed payloads and
annotations of unknown tasks mixed in) the service's bulk inbox, the simulation's way (each oracle answer accepted
and applied before the next), the replay one event per transaction and the headless loop's exports leave the same
stored state: annotations, refused regions, task data, stored event errors, the retrain counter."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from labelsieve.commands.loop import LiveLoop
from labelsieve.labelstudio.protocol import WebhookPayload
from labelsieve.service import events as inbox
from labelsieve.service.events import _apply_one_by_one, accept, apply_pending
from labelsieve.service.inbox import Applied
from labelsieve.storage import crud
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.models import RejectedRegion, WebhookEvent
from tests.factories import project_dict

P = 9
NER = ('<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
       '<Text name="text" value="$text"/></View>')
TASKS = range(100, 108)  # 106 and 107 are never created: annotations arrive for tasks labelsieve does not know


def _text(task_id: int) -> str:
    return f"Ann met Bob in Paris {task_id}"


def _span(start: int, end: int, label: str, quoted: str) -> dict[str, Any]:
    return {"id": f"s{start}", "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": quoted, "labels": [label]}}


SPANS = [_span(0, 3, "PER", "Ann"), _span(8, 11, "PER", "Bob"), _span(15, 20, "LOC", "Paris"),
         _span(4, 9, "PER", "Bob"),  # offsets that give 'met B', not 'Bob'
         _span(0, 3, "ORG", "Ann"),  # a label the config lacks
         _span(2, 2, "LOC", "")]  # empty


def _task(task_id: int, with_data: bool) -> dict[str, Any]:
    return {"id": task_id, "data": {"text": _text(task_id)} if with_data else {}, "project": P}


def _annotation_event(rng: np.random.Generator, action: str, data_share: float = 0.7) -> dict[str, Any]:
    ann_id = int(rng.integers(1, 10))
    task_id = 100 + ann_id % len(TASKS)
    picked = rng.choice(len(SPANS), size=int(rng.integers(0, 3)), replace=False)
    annotation = {"id": ann_id, "task": task_id, "project": P, "result": [SPANS[i] for i in picked],
                  "was_cancelled": bool(rng.random() < 0.1), "lead_time": 2.5, "completed_by": 1}
    with_data = bool(rng.random() < data_share) and task_id < 106
    return {"action": action, "annotation": annotation, "task": _task(task_id, with_data),
            "project": project_dict(P, NER)}


def _malformed(rng: np.random.Generator) -> dict[str, Any]:
    kind = int(rng.integers(0, 3))
    event = _annotation_event(rng, "ANNOTATION_CREATED")
    if kind == 0:  # no task on the annotation and two in the payload: which one?
        event["annotation"].pop("task")
        event["task"] = [_task(100, True), _task(101, True)]
    elif kind == 1:
        event["annotation"]["id"] = "not a number"
    else:
        event["annotation"]["result"] = "not a list"
    return event


def random_events(seed: int, n: int = 70, data_share: float = 0.7) -> list[tuple[dict[str, Any], bool]]:
    """(payload, well formed) in arrival order; ``data_share`` of the annotation webhooks carry their task's data
    (never for tasks 106 and 107)."""
    rng = np.random.default_rng(seed)
    out: list[tuple[dict[str, Any], bool]] = []
    for _ in range(n):
        draw = rng.random()
        if draw < 0.35:
            event, good = _annotation_event(rng, "ANNOTATION_CREATED", data_share), True
        elif draw < 0.55:  # may come before its create
            event, good = _annotation_event(rng, "ANNOTATION_UPDATED", data_share), True
        elif draw < 0.7:
            ids = [int(i) for i in rng.integers(1, 10, size=2)]
            event, good = {"action": "ANNOTATIONS_DELETED", "project": {"id": P},
                           "annotations": [{"id": i} for i in ids]}, True
        elif draw < 0.78:
            ids = [int(t) for t in rng.choice(list(TASKS)[:6], size=2, replace=False)]
            event, good = {"action": "TASKS_CREATED", "project": {"id": P},
                           "tasks": [_task(t, True) for t in ids]}, True
        elif draw < 0.82:
            event, good = {"action": "TASKS_DELETED", "project": {"id": P},
                           "tasks": [{"id": int(rng.integers(100, 106))}]}, True
        elif draw < 0.9 and out:  # the same webhook again (Label Studio retries)
            event, good = out[int(rng.integers(0, len(out)))]
        else:
            event, good = _malformed(rng), False
        out.append((event, good))
    return out


def _store(engine: Engine, event: dict[str, Any], good: bool) -> None:
    """What the inbox holds: well-formed events through ``accept``; malformed ones as an older labelsieve (or a
    hand-made request the intake let through) left them."""
    if good:
        accept(engine, WebhookPayload.model_validate(event))
    else:
        with session_scope(engine) as session:
            crud.add_event(session=session, project_id=P, action=event["action"], payload=event)


def _fresh(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite3")
    with session_scope(engine) as session:
        crud.upsert_project(session=session, project_id=P, label_config=NER)
        crud.set_serving_version(session=session, project_id=P, version="v1")  # predictions get recorded
        crud.save_predictions(session=session, rows=[
            {"project_id": P, "task_id": t, "model_version": "v1", "labels": ["PER"]} for t in (101, 103, 105)])
    return engine


def snapshot(engine: Engine, *, events: bool = True) -> dict[str, Any]:
    with session_scope(engine) as session:
        annotations = [(a.id, a.task_id, a.result, a.labels, a.was_cancelled, a.predicted_labels,
                        a.predicted_version) for a in crud.list_annotations(session=session, project_id=P)]
        tasks = {t: row.data for t, row in crud.get_tasks(session=session, task_ids=list(TASKS)).items()}
        rejected = sorted((r.annotation_id, r.task_id, r.region, r.reason)
                          for r in session.query(RejectedRegion).all())
        out: dict[str, Any] = {"annotations": annotations, "tasks": tasks, "rejected": rejected}
        if events:
            out["errors"] = [e.error for e in session.query(WebhookEvent).order_by(WebhookEvent.id)]
            out["pending"] = crud.count_pending_events(session=session)
            out["since_train"] = crud.get_project(session=session, project_id=P).annotations_since_train
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_service_the_simulation_and_the_replay_leave_the_same_state(tmp_path: Path, seed: int) -> None:
    sequence = random_events(seed)
    service = _fresh(tmp_path, "service")  # the worker: everything queued, then applied in runs
    for event, good in sequence:
        _store(service, event, good)
    applied = apply_pending(service, P)
    simulation = _fresh(tmp_path, "simulation")  # the oracle's way: each answer accepted and applied at once
    one_at_a_time = Applied()
    for event, good in sequence:
        _store(simulation, event, good)
        one_at_a_time.add(apply_pending(simulation, P))
    replay = _fresh(tmp_path, "replay")  # a failed run's replay: one transaction per event
    for event, good in sequence:
        _store(replay, event, good)
    with session_scope(replay) as session:
        queued = crud.pending_events(session=session, project_id=P, limit=1000)
    replayed = Applied()
    _apply_one_by_one(replay, queued, replayed, puller=None, verifier=None)

    expected = snapshot(service)
    assert snapshot(simulation) == expected
    assert snapshot(replay) == expected
    assert applied.changed == one_at_a_time.changed == replayed.changed == expected["since_train"]
    assert applied.errors == one_at_a_time.errors == replayed.errors
    n_bad = sum(not good for _, good in sequence)
    assert sum(error is not None for error in expected["errors"]) == n_bad > 0, "each bad event keeps its error"
    assert expected["pending"] == 0
    assert expected["annotations"] and expected["rejected"], "annotations and refused spans were exercised"
    assert any(row[5] == ["PER"] for row in expected["annotations"]), "the prequential record was exercised"
    assert {106, 107} & set(expected["tasks"]), "an annotation of a task labelsieve lacked filled the task in"


def _label_studio(sequence: list[tuple[dict[str, Any], bool]], upto: int) -> dict[int, dict[str, Any]]:
    """Label Studio's own copy after the first ``upto`` events (malformed webhooks never came from it): task id ->
    task with its annotations, as an export gives it (tasks 106 and 107 with the data the webhooks gave: none)."""
    tasks: dict[int, dict[str, Any]] = {}
    owner: dict[int, int] = {}
    for event, good in sequence[:upto]:
        if not good:
            continue
        action = event["action"]
        if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            ann, task_id = event["annotation"], event["annotation"]["task"]
            task = tasks.setdefault(task_id, {"id": task_id, "data": event["task"]["data"], "annotations": {}})
            if ann["id"] in owner:
                tasks[owner[ann["id"]]]["annotations"].pop(ann["id"], None)
            task["annotations"][ann["id"]] = dict(ann)
            owner[ann["id"]] = task_id
        elif action == "ANNOTATIONS_DELETED":
            for ref in event["annotations"]:
                if ref["id"] in owner:
                    tasks[owner.pop(ref["id"])]["annotations"].pop(ref["id"], None)
        elif action == "TASKS_CREATED":
            for t in event["tasks"]:
                tasks.setdefault(t["id"], {"id": t["id"], "data": t["data"], "annotations": {}})
        elif action == "TASKS_DELETED":
            for t in event["tasks"]:
                gone = tasks.pop(t["id"], None)
                for ann_id in (gone or {}).get("annotations", {}):
                    owner.pop(ann_id, None)
    return {t: dict(task, annotations=list(task["annotations"].values())) for t, task in tasks.items()}


@pytest.mark.parametrize("seed", [0, 1])
def test_the_headless_loop_stores_what_the_webhooks_store(tmp_path: Path, seed: int) -> None:
    """The headless loop sees Label Studio's exports, not webhooks: polled every few events, it ends with the
    annotations and refused regions the webhooks left (the malformed webhooks aside; every webhook carries its
    task's text, as every export does, so spans are checked against the same text)."""
    sequence = random_events(seed, data_share=1.0)
    service = _fresh(tmp_path, "service")
    for event, good in sequence:
        if good:
            _store(service, event, good)
    apply_pending(service, P)
    headless = _fresh(tmp_path, "headless")
    live = LiveLoop(service=SimpleNamespace(engine=headless), project_id=P)  # its storing steps need the engine
    seen: dict[int, dict[str, Any]] = {}
    for upto in range(10, len(sequence) + 10, 10):
        state = _label_studio(sequence, upto)
        changed = [task for t, task in state.items() if seen.get(t) != task]
        live._store(list(state.values()) if live._signatures is None else changed,
                    replace_all=live._signatures is None)
        gone = set(seen) - set(state)
        if gone:
            with session_scope(headless) as session:  # what _reconcile does once Label Studio's count drops
                crud.delete_tasks(session=session, project_id=P, task_ids=sorted(gone))
        seen = state
    expected, found = snapshot(service, events=False), snapshot(headless, events=False)
    key = [(a[0], a[1], a[2], a[3], a[4]) for a in expected["annotations"]]
    assert [(a[0], a[1], a[2], a[3], a[4]) for a in found["annotations"]] == key
    assert found["rejected"] == expected["rejected"]


def test_a_run_that_fails_to_write_is_replayed_one_event_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """A run whose write fails is replayed one event per transaction: the good events are kept, the bad one's
    error is recorded."""
    sequence = random_events(5)
    expected_engine = _fresh(tmp_path, "expected")
    for event, good in sequence:
        _store(expected_engine, event, good)
    apply_pending(expected_engine, P)
    engine = _fresh(tmp_path, "failing")
    for event, good in sequence:
        _store(engine, event, good)
    real = inbox.apply_events
    calls: list[int] = []

    def failing_runs(engine: Engine, events: list[WebhookEvent], **kwargs: Any) -> Applied:
        calls.append(len(events))
        if len(events) > 1:
            raise OSError("disk full")
        return real(engine, events, **kwargs)

    monkeypatch.setattr(inbox, "apply_events", failing_runs)
    apply_pending(engine, P)
    assert max(calls) > 1 and calls.count(1) == len(sequence), "runs failed, then one event per write"
    assert snapshot(engine) == snapshot(expected_engine)
