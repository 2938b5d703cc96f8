"""Trust boundary and outage against a real Label Studio 1.23 (not a stub).

A webhook carries no auth, so labelsieve re-reads every announced annotation from Label Studio with its own key:
a forged webhook (a changed label, planted task text, an annotation that does not exist) stores nothing of its own.
With Label Studio down, ``/predict`` answers from the store and the events that could not be verified wait in the
inbox; when Label Studio is back the backend catches up and loses none of them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.e2e.helpers import (
    TEXT_CONFIG,
    annotate,
    backend_status,
    connect_backend,
    create_project,
    text_dataset,
    wait_version,
)
from tests.e2e.helpers import predictions as ls_predictions
from tests.e2e.helpers import project as project_of

EXTRA = {"learner": "text", "retrain_every": 20, "strategy": "margin", "min_annotations": 20}
LABELS = ("sports", "weather", "food")


def _stored(db: Path, pid: int) -> dict[int, tuple[int, list[str]]]:
    """annotation id → (task id, labels), read from labelsieve's database behind the server's back."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, task_id, labels FROM annotation WHERE project_id = :p"), {"p": pid})
            return {int(i): (int(t), json.loads(labels) if isinstance(labels, str) else labels)
                    for i, t, labels in rows}
    finally:
        engine.dispose()


def _task_text(db: Path, task_id: int) -> str:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            data = conn.execute(text("SELECT data FROM task WHERE id = :t"), {"t": task_id}).scalar()
            return str((json.loads(data) if isinstance(data, str) else data)["text"])
    finally:
        engine.dispose()


def _event(action: str, pid: int, annotation_id: int, task_id: int, label: str, task_text: str) -> dict:
    return {"action": action, "project": {"id": pid, "label_config": TEXT_CONFIG},
            "task": {"id": task_id, "data": {"text": task_text}, "project": pid},
            "annotation": {"id": annotation_id, "task": task_id, "project": pid, "was_cancelled": False,
                           "result": [{"from_name": "topic", "to_name": "text", "type": "choices",
                                       "value": {"choices": [label]}}]}}


def _queue(backend) -> int:
    return int(httpx.get(f"{backend.url}/health", timeout=10).json()["queue_length"])


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_forged_webhooks_and_a_label_studio_outage(label_studio, labelsieve_server, tmp_path) -> None:
    ls, backend = label_studio, labelsieve_server
    db = tmp_path / "labelsieve.sqlite3"
    items = text_dataset(60, seed=3)
    pid, truth = create_project(ls, "e2e faults", items)
    connect_backend(ls, pid, backend.url, EXTRA)
    order = list(truth)
    annotation_of = {tid: annotate(ls, tid, truth[tid]) for tid in order[:20]}
    wait_version(ls, pid, other_than=None)  # 20 real annotations arrived by webhook and trained v1
    _wait(lambda: len(_stored(db, pid)) == 20, 30, "the 20 real annotations")

    # Forged webhooks posted straight to the backend, as anyone on the network could
    victim = order[0]
    wrong = next(label for label in LABELS if label != truth[victim])
    forged = [_event("ANNOTATION_UPDATED", pid, annotation_of[victim], victim, wrong, "planted text"),
              _event("ANNOTATION_CREATED", pid, 987_654, order[30], wrong, "planted text")]
    for event in forged:
        assert httpx.post(f"{backend.url}/webhook", json=event, timeout=10).status_code == 200
    _wait(lambda: _queue(backend) == 0, 60, "the forged events to be handled")
    stored = _stored(db, pid)
    assert stored[annotation_of[victim]] == (victim, [truth[victim]]), "a forged label replaced the real one"
    assert 987_654 not in stored, "an annotation Label Studio does not have was stored"
    assert _task_text(db, victim) != "planted text"

    # v1 was trained on labels that came before any prediction: no evidence that it is right, so the predictions
    # it pushed into Label Studio carry their score alone (no pre-ticked answer to accept by mistake)
    v1 = project_of(ls, pid)["model_version"]
    pushed = ls_predictions(ls, pid, v1)
    assert pushed and all(label is None for _, label in pushed.values()), "an unproven model pre-ticked answers"

    # Label Studio goes down after it made twenty annotations whose webhooks reach us late; they are the wrong
    # labels on purpose (each one the next topic), so v1 scores below chance on them
    hooks = ls.api("GET", "/api/webhooks/", params={"project": pid}).json()
    assert len(hooks) == 1, hooks
    assert ls.api("PATCH", f"/api/webhooks/{hooks[0]['id']}/", json={"is_active": False}).status_code == 200
    flipped = {tid: LABELS[(LABELS.index(truth[tid]) + 1) % 3] for tid in order[20:40]}
    late = {tid: annotate(ls, tid, flipped[tid]) for tid in flipped}
    unlabeled = [{"id": tid, "data": {"text": items[order.index(tid)][0]}} for tid in order[40:50]]
    payload = {"tasks": unlabeled, "project": f"{pid}.1795352218", "label_config": TEXT_CONFIG}
    before = httpx.post(f"{backend.url}/predict", json=payload, timeout=30).json()
    ls_url = ls.url
    ls.stop(remove=False)
    try:
        for tid, annotation_id in late.items():
            event = _event("ANNOTATION_CREATED", pid, annotation_id, tid, flipped[tid], items[order.index(tid)][0])
            acked = httpx.post(f"{backend.url}/webhook", json=event, timeout=10)
            assert acked.status_code == 200 and acked.elapsed.total_seconds() < 1.0
        # the worker met the stopped Label Studio: health, project status and metrics say so (no sleep raced)
        _wait(lambda: backend_status(backend.url, pid)["waiting"]["events"] == 20
              and backend_status(backend.url, pid)["waiting"]["state"] == "waiting_for_label_studio", 120,
              "the project to report its 20 events waiting on Label Studio")
        health = httpx.get(f"{backend.url}/health", timeout=10)
        status = backend_status(backend.url, pid)
        print("\nLabel Studio stopped — GET /health:", json.dumps(health.json(), indent=1))
        print(f"GET /projects/{pid} waiting:", json.dumps(status["waiting"], indent=1))
        assert health.status_code == 200 and health.json()["status"] == "DEGRADED"
        assert health.json()["waiting_events"] == 20 and ls_url in health.json()["reason"]
        assert "LABEL_STUDIO_URL" in health.json()["reason"]
        assert status["waiting"]["label_studio_url"] == ls_url and status["waiting"]["reason"] == "unreachable"
        assert status["waiting"]["oldest_wait_seconds"] is not None and status["waiting"]["last_error"]
        assert backend.metric(f'labelsieve_events_waiting_for_label_studio{{project="{pid}"}}') == 20
        during = httpx.post(f"{backend.url}/predict", json=payload, timeout=30)
        assert during.status_code == 200 and during.json() == before, "/predict must answer from the store"
        assert _queue(backend) >= 1, "events kept for later"
        assert set(_stored(db, pid)) == set(annotation_of.values()), "nothing unverified stored while LS is down"
    finally:
        ls.start()  # same port and data directory
    _wait(lambda: set(_stored(db, pid)) == set(annotation_of.values()) | set(late.values()), 120,
          "the backend to catch up with the twenty annotations once Label Studio is back")
    stored = _stored(db, pid)
    assert all(stored[late[tid]] == (tid, [flipped[tid]]) for tid in late)
    assert backend.metric("labelsieve_failures_total") >= 1  # the outage is visible in /metrics
    v2 = wait_version(ls, pid, other_than=v1)  # training resumed: 20 new labels = retrain_every
    assert httpx.get(f"{backend.url}/health", timeout=10).json()["status"] == "UP"
    assert backend_status(backend.url, pid)["waiting"]["state"] == "ok"
    assert backend.metric(f'labelsieve_events_waiting_for_label_studio{{project="{pid}"}}') == 0
    # v1 got the twenty labels that came next wrong: v2's predictions carry no pre-ticked answer
    gate = backend_status(backend.url, pid)["preannotation"]
    assert gate["evidence"] >= 20 and gate["estimated_accuracy"] < gate["threshold"] and not gate["pre_ticks"], gate
    pushed = ls_predictions(ls, pid, v2)
    assert pushed and all(label is None for _, label in pushed.values()), "a model below chance pre-ticked answers"


def test_setup_refuses_a_label_studio_the_backend_cannot_reach(label_studio, tmp_path) -> None:
    """Label Studio shows the refusal when the backend is connected: the URL tried and the setting to change."""
    from tests.harness.net import free_port
    from tests.reliability.server import ServerProcess

    dead = f"http://127.0.0.1:{free_port()}"
    backend = ServerProcess(tmp_path / "refusing", f"sqlite:///{tmp_path / 'refusing.sqlite3'}",
                            LABEL_STUDIO_URL=dead, LABEL_STUDIO_API_KEY=label_studio.token).start()
    try:
        pid, _ = create_project(label_studio, "e2e setup refused", text_dataset(3, seed=1))
        connected = label_studio.api("POST", "/api/ml", json={"project": pid, "url": backend.url, "title": "x"})
        print("\nLabel Studio answers the connection with:", connected.status_code, connected.text[:1500])
        assert connected.status_code == 400
        assert dead in connected.text and "LABEL_STUDIO_URL" in connected.text
        assert "LABELSIEVE_SETUP_CHECKS_LABEL_STUDIO" in connected.text
    finally:
        backend.stop()
