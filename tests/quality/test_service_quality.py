"""Through the service (webhooks → worker → background quality pass): /projects/{id}/issues, pruning, MLflow runs.

No Label Studio here (tests/e2e/test_live_quality.py has it); a real MLflow SQLite store under tmp, read back with
MLflow's own client.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from tests.factories import IMAGE_CONFIG, annotation_event, ls_task, predict_payload, setup_payload
from tests.quality.helpers import noisy_digits

PROJECT = 11
N_LABELLED = 500


def _annotate(client: TestClient, X: np.ndarray, given: np.ndarray, ids: range) -> None:
    """One ANNOTATIONS_CREATED webhook for the whole batch: one retrain, however slow the machine is."""
    events = []
    for i in ids:
        task = ls_task(1000 + i, {"image": X[i].round(3).tolist()}, PROJECT)
        events.append(annotation_event("ANNOTATION_CREATED", annotation_id=50_000 + i, task=task, project_id=PROJECT,
                                       config=IMAGE_CONFIG, from_name="label", to_name="image", choice=str(given[i])))
    batch = {**events[0], "action": "ANNOTATIONS_CREATED", "annotation": [e["annotation"] for e in events],
             "task": [e["task"] for e in events]}
    assert client.post("/webhook", json=batch).status_code == 200


def _settle(client: TestClient) -> None:
    service = client.app.state.service
    assert service.worker.wait_idle(600), "worker did not go idle"
    assert service.quality.wait_idle(600), "quality pass did not finish"


@pytest.mark.slow
def test_retrains_are_scored_pruned_and_tracked_in_mlflow(client_factory, tmp_path: Path) -> None:
    X, given, _, _ = noisy_digits(0.10, seed=2)
    flipped = {i for i in range(N_LABELLED) if given[i] != noisy_digits(0.0)[1][i]}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    extra = {"learner": "vector", "prune": "flagged", "retrain_every": 1}
    with client_factory(mlflow_tracking_uri=uri, mlflow_experiment="digits-quality") as client:
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        assert client.get(f"/projects/{PROJECT}/issues").json()["status"] == "no_model"
        pool = [ls_task(1000 + i, {"image": X[i].round(3).tolist()}, PROJECT) for i in range(N_LABELLED, 540)]
        assert client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, pool)).status_code == 200
        _annotate(client, X, given, range(N_LABELLED))
        _settle(client)

        body = client.get(f"/projects/{PROJECT}/issues").json()
        assert body["status"] == "ready" and body["scored_version"] == body["model_version"]
        assert body["review_model_version"].startswith("labelsieve-review-v")
        candidates = body["candidates"]
        assert candidates, "no candidates on 10% flipped labels"
        scores = [c["issue_score"] for c in candidates]
        assert scores == sorted(scores, reverse=True), "candidates must come worst first"
        top = {c["task_id"] - 1000 for c in candidates[:len(flipped)]}
        assert len(top & flipped) / len(top) >= 0.6
        first_prune = {c["annotation_id"] for c in candidates if c["recommendation"] == "prune"}
        assert first_prune and body["pruned_annotations"] == []  # the first version trained on everything

        _annotate(client, X, given, range(N_LABELLED, N_LABELLED + 1))  # one more label: a second retrain
        _settle(client)
        status = client.get(f"/projects/{PROJECT}").json()
        ready = [v for v in status["versions"] if v["status"] == "ready"]
        assert len(ready) == 2
        body = client.get(f"/projects/{PROJECT}/issues").json()
        assert set(body["pruned_annotations"]) == first_prune  # left out of training, and said so
        assert ready[-1]["n_train"] == N_LABELLED + 1 - len(first_prune)
        assert status["labeled_tasks"] == N_LABELLED + 1  # nothing deleted

    client_ml = MlflowClient(tracking_uri=uri)
    experiment = client_ml.get_experiment_by_name("digits-quality")
    runs = client_ml.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.info.run_name for r in runs] == [v["version"] for v in ready]
    last = runs[-1]
    assert last.data.params["strategy"] == "margin" and last.data.params["learner"] == "vector"
    assert last.data.params["prune"] == "flagged" and last.data.params["batch_size"] == "10"
    metrics = last.data.metrics
    assert metrics["label_issues"] > 0 and metrics["pruned"] == len(first_prune)
    assert metrics["n_train"] == N_LABELLED + 1 - len(first_prune)
    assert sum(v for k, v in metrics.items() if k.startswith("class_count.")) == metrics["n_train"]
    assert metrics["imbalance_ratio"] >= 1.0 and 0.0 <= metrics["prequential_accuracy"] <= 1.0
    names = {a.path for a in client_ml.list_artifacts(last.info.run_id)}
    assert {"ranking.csv", "scorecard.csv", "model"} <= names
    model_files = {Path(a.path).name for a in client_ml.list_artifacts(last.info.run_id, "model")}
    assert "learner.json" in model_files
    assert experiment.artifact_location.startswith((tmp_path / "data").as_uri())  # never the working directory
    scorecard = Path(client_ml.download_artifacts(last.info.run_id, "scorecard.csv", str(tmp_path))).read_text()
    assert scorecard.splitlines()[0].startswith("task_id,annotation_id,label,suggested_label")


def test_label_issues_switch_off_and_bad_values_are_refused(client_factory) -> None:
    with client_factory() as client:
        bad = client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"prune": "everything"}))
        assert bad.status_code == 400 and "prune" in bad.text
        bad = client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"label_issues": "yes"}))
        assert bad.status_code == 400 and "label_issues" in bad.text
        ok = client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, {"learner": "vector",
                                                                              "label_issues": False}))
        assert ok.status_code == 200
        X, given, _, _ = noisy_digits(0.10, seed=2)
        _annotate(client, X, given, range(60))
        _settle(client)
        body = client.get(f"/projects/{PROJECT}/issues").json()
        assert body["status"] == "disabled" and body["candidates"] == [] and body["model_version"]
        assert client.get("/projects/999/issues").status_code == 404
