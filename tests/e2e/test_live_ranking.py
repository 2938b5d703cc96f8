"""End to end against a real Label Studio 1.23: labelsieve's ranking is the order annotators are served."""

from __future__ import annotations

import json
import time

import httpx

from tests.e2e.helpers import (
    annotate,
    connect_backend,
    create_project,
    delete_annotation,
    predictions,
    project,
    text_dataset,
    wait_labeled,
    wait_version,
)

EXTRA = {"learner": "text", "retrain_every": 20, "strategy": "margin", "min_annotations": 20}


def _labeled_count(server_url: str, pid: int) -> int:
    return int(httpx.get(f"{server_url}/projects/{pid}", timeout=10).json()["labeled_tasks"])


def _assert_served_in_our_order(ls, pid: int, truth: dict[int, str], version: str, labelled: set[int],
                                n: int = 3) -> None:
    ours = {tid: p for tid, p in predictions(ls, pid, version).items() if tid not in labelled}
    for _ in range(n):
        served = ls.api("GET", f"/api/projects/{pid}/next").json()
        task_id = int(served["id"])
        lowest = min(score for tid, (score, _) in ours.items())
        assert ours[task_id][0] == lowest, f"served task {task_id} score {ours[task_id][0]}, lowest {lowest}"
        annotate(ls, task_id, truth[task_id])
        ours.pop(task_id)


def test_text_project_live_through_webhooks(label_studio, labelsieve_server) -> None:
    ls = label_studio
    items = text_dataset(240, seed=1)
    pid, truth = create_project(ls, "e2e text webhooks", items)
    connect_backend(ls, pid, labelsieve_server.url, EXTRA)

    order = list(truth)
    first_ids = [annotate(ls, tid, truth[tid]) for tid in order[:20]]
    version = wait_version(ls, pid, other_than=None)
    assert project(ls, pid)["sampling"] == "Uncertainty sampling"
    ours = predictions(ls, pid, version)
    assert set(order[20:]) <= set(ours), "every unlabeled task has a prediction of the current model_version"

    _assert_served_in_our_order(ls, pid, truth, version, set(order[:20]))

    labelled = {tid for tid in truth if ls.api("GET", f"/api/tasks/{tid}/").json()["total_annotations"]}
    rest = [tid for tid in order if tid not in labelled]
    for tid in rest[: 100 - len(labelled)]:
        annotate(ls, tid, truth[tid])
        labelled.add(tid)
    latest = wait_version(ls, pid, other_than=version)
    deadline = time.monotonic() + 60
    while project(ls, pid)["model_version"] == latest and _labeled_count(labelsieve_server.url, pid) < 100:
        time.sleep(0.5) if time.monotonic() < deadline else None
        if time.monotonic() > deadline:
            break
    latest = project(ls, pid)["model_version"]
    ours = predictions(ls, pid, latest)
    correct = sum(label == truth[tid] for tid, (_, label) in ours.items())
    assert ours and correct / len(ours) > 0.6, f"accuracy {correct}/{len(ours)} on unlabeled tasks (chance 1/3)"

    before = _labeled_count(labelsieve_server.url, pid)
    delete_annotation(ls, first_ids[0])
    assert wait_labeled(labelsieve_server.url, pid, before - 1) == before - 1, "the deleted annotation left training"


def test_headless_loop_without_webhooks(label_studio, settings_factory) -> None:
    from labelsieve.commands.loop import LiveLoop
    from labelsieve.labelstudio.client import LabelStudioClient
    from labelsieve.service import build_service
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    ls = label_studio
    pid, truth = create_project(ls, "e2e headless", text_dataset(150, seed=2))
    assert ls.api("GET", "/api/webhooks/", params={"project": pid}).json() == []
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key=ls.token,
                                             start_workers=False))
    try:
        live = LiveLoop(service=service, client=LabelStudioClient(ls.url, ls.token), project_id=pid,
                        extra_params=json.loads(json.dumps(EXTRA)))
        live.setup()
        order = list(truth)
        ann_ids = [annotate(ls, tid, truth[tid]) for tid in order[:30]]
        summary = live.sync_once()
        assert summary.status == "trained" and summary.pushed == 120
        version = project(ls, pid)["model_version"]
        assert version == summary.version
        assert set(predictions(ls, pid, version)) == set(order[30:])
        _assert_served_in_our_order(ls, pid, truth, version, set(order[:30]))
        assert live.sync_once().status == "trained"  # three new annotations

        ls.api("DELETE", f"/api/annotations/{ann_ids[0]}/")
        live.sync_once()
        with session_scope(service.engine) as session:
            kept = {task.id for task, _ in crud.labeled_examples(session=session, project_id=pid)}
        assert order[0] not in kept and len(kept) == 32
        assert live.sync_once().status == "unchanged"
    finally:
        service.stop()
