"""The live project status shows a stratified 5-fold estimate of per-class recall/precision and macro-F1, computed
in the background after a retrain (never on the retrain path), stored with its version, and honest about classes
with fewer than 5 labels. Through the service: webhooks → worker → quality thread, real storage."""

from __future__ import annotations

import re
import threading
from datetime import datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_digits

from labelsieve.quality.cvestimate import cross_validate, recipe_fit
from labelsieve.registry import get_registry
from tests.factories import IMAGE_CONFIG, annotation_event, ls_task, setup_payload

PROJECT = 21
PER_CLASS = {**{str(d): 30 for d in range(8)}, "8": 7, "9": 3}  # a long tail: digit 9 has fewer than 5 labels


def _long_tail() -> tuple[np.ndarray, list[str]]:
    X, y = load_digits(return_X_y=True)
    keep = np.concatenate([np.flatnonzero(y == int(c))[:n] for c, n in PER_CLASS.items()])
    return X[keep].astype(np.float32), [str(v) for v in y[keep]]


def _annotate(client: TestClient, project: int, X: np.ndarray, y: list[str], ids: range) -> None:
    events = []
    for i in ids:
        task = ls_task(project * 10_000 + i, {"image": X[i].round(3).tolist()}, project)
        events.append(annotation_event("ANNOTATION_CREATED", annotation_id=project * 100_000 + i, task=task,
                                       project_id=project, config=IMAGE_CONFIG, from_name="label", to_name="image",
                                       choice=y[i]))
    batch = {**events[0], "action": "ANNOTATIONS_CREATED", "annotation": [e["annotation"] for e in events],
             "task": [e["task"] for e in events]}
    assert client.post("/webhook", json=batch).status_code == 200


def test_status_shows_the_five_fold_estimate_after_a_retrain(client_factory) -> None:
    X, y = _long_tail()
    n = len(y) - 1
    with client_factory() as client:
        service = client.app.state.service
        extra = {"learner": "vector", "label_issues": False, "seed": 4}
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        assert client.get(f"/projects/{PROJECT}").json()["cv_estimate"] is None  # no model, no estimate

        gate = threading.Event()
        service.quality.before_job = lambda project_id, version: gate.wait(120)  # hold the background job
        _annotate(client, PROJECT, X, y, range(n))
        assert service.worker.wait_idle(600)
        status = client.get(f"/projects/{PROJECT}").json()
        first = status["model_version"]
        assert first is not None and status["cv_estimate"] is None  # the retrain served without waiting for it
        gate.set()
        assert service.quality.wait_idle(600)

        estimate = client.get(f"/projects/{PROJECT}").json()["cv_estimate"]
        assert estimate["status"] == "ok" and estimate["version"] == first and estimate["serving"]
        assert estimate["n_labels"] == n and estimate["folds"] == 5 and not estimate["capped"]
        assert estimate["too_few"] == {"9": 2}  # said so: trained on in every fold, never scored
        assert "9" not in estimate["per_class"] and estimate["estimated_classes"] == [str(d) for d in range(9)]
        assert estimate["per_class"]["8"]["support"] == 7 and estimate["labels_since"] == 0
        assert datetime.fromisoformat(estimate["computed_at"]).tzinfo is not None
        assert "5-fold" in estimate["method"]
        # the numbers are the recipe's out-of-fold scores: recomputed outside the service they agree
        fit = recipe_fit(lambda params: get_registry("learners").create("vector", params), {}, None, {}, "vector", 4)
        direct = cross_validate(list(X[:n]), y[:n], fit=fit, seed=4)
        assert estimate["macro_f1"] == pytest.approx(direct["macro_f1"])
        assert estimate["per_class"] == direct["per_class"]
        assert 0.8 < estimate["macro_f1"] <= 1.0
        # the rarest estimated class is visibly worse than the head classes: what the estimate is for
        head = np.mean([estimate["per_class"][str(d)]["recall"] for d in range(8)])
        assert estimate["per_class"]["8"]["recall"] < head

        page = client.get(f"/projects/{PROJECT}/page").text  # the project page shows it too, rarest class first
        assert "Per-class estimate (5-fold)" in page and f"for version {first}" in page
        assert "Not estimated, fewer than 5 labels (trained on in every fold, never held out): 9 (2)." in page
        rows = re.findall(r"<tr><td>(\d)</td><td>(\d+)</td><td>([\d.]+)</td><td>([\d.]+)</td></tr>", page)
        assert rows[0][:2] == ("8", "7") and float(rows[0][2]) == pytest.approx(estimate["per_class"]["8"]["recall"],
                                                                                 abs=1e-3)

        _annotate(client, PROJECT, X, y, range(n, n + 1))  # one more label: a new version, a new estimate
        assert service.worker.wait_idle(600) and service.quality.wait_idle(600)
        status = client.get(f"/projects/{PROJECT}").json()
        assert status["model_version"] != first
        estimate = status["cv_estimate"]
        assert estimate["version"] == status["model_version"] and estimate["n_labels"] == n + 1


def test_the_estimate_can_be_switched_off(client_factory) -> None:
    X, y = _long_tail()
    with client_factory() as client:
        service = client.app.state.service
        extra = {"learner": "vector", "label_issues": False, "cv_estimate": False}
        assert client.post("/setup", json=setup_payload(PROJECT + 1, IMAGE_CONFIG, extra)).status_code == 200
        _annotate(client, PROJECT + 1, X, y, range(len(y)))
        assert service.worker.wait_idle(600) and service.quality.wait_idle(600)
        status = client.get(f"/projects/{PROJECT + 1}").json()
        assert status["model_version"] is not None and status["cv_estimate"] is None
