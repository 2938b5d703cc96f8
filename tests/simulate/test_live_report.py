"""GET /projects/{id}/report on a live project fed by /webhook: prequential accuracy and a projection."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from tests.api.helpers import wait_trained
from tests.factories import IMAGE_CONFIG, annotation_event, ls_task, predict_payload, setup_payload

PROJECT = 41


def test_live_project_report_is_prequential_with_a_projection(client_factory) -> None:
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))[:400]
    tasks = [ls_task(int(i) + 1, {"image": digits.data[i].tolist()}, PROJECT) for i in order]
    labels = {int(i) + 1: str(digits.target[i]) for i in order}
    with client_factory() as client:
        extra = {"learner": "vector", "strategy": "margin", "batch_size": 10}
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        # Label Studio asks for predictions of the tasks it shows: the backend learns the pool from them
        assert client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, tasks)).status_code == 200
        before = client.get(f"/projects/{PROJECT}/report").json()
        assert before["n_scored"] == 0 and before["projection"]["status"] == "insufficient"

        annotation_id = 1
        for start in range(0, 80, 20):  # a seed batch, then batches labelled after each retrain
            for task in tasks[start:start + 20]:
                event = annotation_event("ANNOTATION_CREATED", annotation_id=annotation_id, task=task,
                                         project_id=PROJECT, config=IMAGE_CONFIG, from_name="label",
                                         to_name="image", choice=labels[task["id"]])
                assert client.post("/webhook", json=event).status_code == 200
                annotation_id += 1
            wait_trained(client)

        report = client.get(f"/projects/{PROJECT}/report").json()
        assert report["estimation"] == "prequential" and report["labeled"] == 80
        truth = [labels[task["id"]] for task in tasks[:80]]
        assert report["class_counts"] == {c: truth.count(c) for c in sorted(set(truth))}
        assert report["imbalance_ratio"] == max(report["class_counts"].values()) / min(report["class_counts"].values())
        # the first 20 labels came before any model (on a loaded machine a retrain may start within that batch)
        assert 60 <= report["n_scored"] < 80
        assert len(report["curve"]) >= 3
        assert report["accuracy"] > 0.5  # ten classes: chance is 0.1
        projection = report["projection"]
        # three noisy prequential points: the fit projects (with an interval) or says why it cannot; never both
        assert projection["status"] in ("ok", "degenerate"), projection
        assert 0.5 < projection["plateau"] <= 1.0
        if projection["status"] == "ok":
            assert projection["labels_to_target"] is None or projection["labels_to_target"] > 0
        else:
            assert projection["reason"] and projection["labels_to_target"] is None
        estimate = report["accuracy_estimate"]  # margin chose every scored task: the estimate says it is biased
        assert not estimate["unbiased"] and estimate["n"] == report["n_scored"]
        assert estimate["ci"][0] <= report["accuracy"] <= estimate["ci"][1]
        assert client.get("/projects/9999/report").status_code == 404
