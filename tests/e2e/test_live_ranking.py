"""End to end against a real Label Studio 1.23: labelsieve's ranking is the order annotators are served."""

from __future__ import annotations

import time

from tests.e2e.helpers import (
    annotate,
    backend_status,
    connect_backend,
    create_project,
    delete_and_sync,
    delete_annotation,
    first_headless_round,
    predictions,
    project,
    served_in_our_order,
    text_dataset,
    wait_labeled,
    wait_version,
)

EXTRA = {"learner": "text", "retrain_every": 20, "strategy": "margin", "min_annotations": 20,
         "queue_depth": "all",  # every unlabeled task gets a prediction (the heads are tested in test_live_queue)
         "preannotate_threshold": 0}  # gate off: the test reads accuracy from the pushed labels


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

    served_in_our_order(ls, pid, truth, version, set(order[:20]))

    labelled = {tid for tid in truth if ls.api("GET", f"/api/tasks/{tid}/").json()["total_annotations"]}
    rest = [tid for tid in order if tid not in labelled]
    for tid in rest[: 100 - len(labelled)]:
        annotate(ls, tid, truth[tid])
        labelled.add(tid)
    latest = wait_version(ls, pid, other_than=version)
    deadline = time.monotonic() + 60  # give the model trained on all 100 labels a minute to go live
    while (time.monotonic() < deadline and project(ls, pid)["model_version"] == latest
           and backend_status(labelsieve_server.url, pid)["labeled_tasks"] < 100):
        time.sleep(0.5)
    latest = project(ls, pid)["model_version"]
    ours = predictions(ls, pid, latest)
    correct = sum(label == truth[tid] for tid, (_, label) in ours.items())
    assert ours and correct / len(ours) > 0.6, f"accuracy {correct}/{len(ours)} on unlabeled tasks (chance 1/3)"

    before = backend_status(labelsieve_server.url, pid)["labeled_tasks"]
    delete_annotation(ls, first_ids[0])
    assert wait_labeled(labelsieve_server.url, pid, before - 1) == before - 1, "the deleted annotation left training"


def test_headless_loop_without_webhooks(label_studio, settings_factory) -> None:
    from labelsieve.service.container import build_service

    ls = label_studio
    pid, truth = create_project(ls, "e2e headless", text_dataset(150, seed=2))
    assert ls.api("GET", "/api/webhooks/", params={"project": pid}).json() == []
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key=ls.token,
                                             start_workers=False))
    try:
        live, order, ann_ids, summary = first_headless_round(service, ls, pid, truth, EXTRA)
        assert summary.status == "trained" and summary.pushed == 120
        version = project(ls, pid)["model_version"]
        assert version == summary.version
        assert set(predictions(ls, pid, version)) == set(order[30:])
        served_in_our_order(ls, pid, truth, version, set(order[:30]))
        assert live.sync_once().status == "trained"  # three new annotations

        _, kept = delete_and_sync(live, service, ls, pid, ann_ids[0])
        assert order[0] not in kept and len(kept) == 32
        assert live.sync_once().status == "unchanged"
    finally:
        service.stop()
