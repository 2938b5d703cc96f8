"""End to end against a real Label Studio 1.23 with an image project (digits PNGs over local-files storage).

The same guarantees as the text project (test_live_ranking.py), with the torch image learner: the
backend connects through POST /api/ml, annotations reach it by webhook and retrain it, every unlabeled
task gets a prediction of the project's current model_version, the label stream serves our order,
predictions are right well above chance after 100 annotations, a deleted annotation leaves the training
set, and the headless loop reaches the same state without webhooks.
"""

from __future__ import annotations

from tests.e2e.helpers import (
    connect_backend,
    delete_and_sync,
    delete_annotation,
    first_headless_round,
    predictions,
    project,
    served_in_our_order,
    wait_labeled,
    wait_version,
)
from tests.e2e.images import (
    IMAGE_EXTRA,
    annotate_digit,
    create_image_project,
    wait_live_model,
)


def test_image_project_live_through_webhooks(label_studio, labelsieve_server) -> None:
    ls = label_studio
    pid, truth = create_image_project(ls, "e2e digits webhooks", 160)
    connected = connect_backend(ls, pid, labelsieve_server.url, IMAGE_EXTRA)
    order = list(truth)
    first_ids = [annotate_digit(ls, tid, truth[tid]) for tid in order[:20]]
    version = wait_version(ls, pid, other_than=None)
    assert project(ls, pid)["sampling"] == "Uncertainty sampling"
    assert set(predictions(ls, pid, version)) == set(order[20:]), "one prediction per unlabeled task"

    served = served_in_our_order(ls, pid, truth, version, set(order[:20]), annotate_digit)
    labelled = set(order[:20]) | set(served)
    for tid in [t for t in order if t not in labelled][: 100 - len(labelled)]:
        annotate_digit(ls, tid, truth[tid])
        labelled.add(tid)
    ml_id = connected["id"]  # "Start training": the final model sees all 100 labels
    assert ls.api("POST", f"/api/ml/{ml_id}/train", json={}).status_code == 200
    latest = wait_live_model(ls, labelsieve_server.url, pid, n_train=100)
    assert latest != version
    ours = predictions(ls, pid, latest)
    assert set(ours) == set(order) - labelled, "every unlabeled task has a prediction of the current version"
    correct = sum(label == truth[tid] for tid, (_, label) in ours.items())
    assert correct / len(ours) > 0.5, f"accuracy {correct}/{len(ours)} on unlabeled digits (chance 1/10)"

    delete_annotation(ls, first_ids[0])
    assert wait_labeled(labelsieve_server.url, pid, 99) == 99, "the deleted annotation left the training set"


def test_image_project_headless_loop(label_studio, tmp_path) -> None:
    from labelsieve.service.container import build_service
    from labelsieve.settings import Settings

    ls = label_studio
    pid, truth = create_image_project(ls, "e2e digits headless", 90)
    assert ls.api("GET", "/api/webhooks/", params={"project": pid}).json() == []
    service = build_service(Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}", torch_threads=1,
        label_studio_url=ls.url, label_studio_api_key=ls.token, local_files_document_root=None,
        start_workers=False))  # media fetched over HTTP from Label Studio with the API key
    try:
        live, order, ann_ids, summary = first_headless_round(service, ls, pid, truth, IMAGE_EXTRA, annotate_digit)
        assert summary.status == "trained" and summary.pushed == 60
        version = project(ls, pid)["model_version"]
        assert version == summary.version and project(ls, pid)["sampling"] == "Uncertainty sampling"
        assert set(predictions(ls, pid, version)) == set(order[30:])
        served_in_our_order(ls, pid, truth, version, set(order[:30]), annotate_digit)
        again = live.sync_once()  # three new annotations: a new version replaces the old one in LS
        assert again.status == "trained" and project(ls, pid)["model_version"] == again.version != version

        status, kept = delete_and_sync(live, service, ls, pid, ann_ids[0])
        assert status == "trained"
        assert order[0] not in kept and len(kept) == 32
        assert live.sync_once().status == "unchanged"
    finally:
        service.stop()
