"""Through the service: a batch of shifted new tasks after a retrain shows as drift in the project status, /health,
/metrics and the page, with one WARNING that says to label a uniform sample."""

from __future__ import annotations

import logging

import numpy as np

from tests.factories import IMAGE_CONFIG, ls_task, predict_payload, setup_payload
from tests.quality.helpers import noisy_digits
from tests.quality.test_service_quality import PROJECT, _annotate, _settle


def test_shifted_new_tasks_raise_drift_everywhere_it_is_shown(client_factory, caplog) -> None:
    X, given, _, _ = noisy_digits(0.0, seed=4)
    extra = {"learner": "vector", "cv_estimate": False, "label_issues": False}
    with client_factory() as client:
        assert client.post("/setup", json=setup_payload(PROJECT, IMAGE_CONFIG, extra)).status_code == 200
        _annotate(client, X, given, range(120))
        _settle(client)
        first = client.get(f"/projects/{PROJECT}").json()["drift"]
        assert first["detected"] is None and "too few to tell" in first["features"]["reason"]
        assert first["accuracy"]["detected"] is None  # the first model has scored no label yet
        # 80 new tasks, inverted images: unlike anything labelsieve had
        shifted = [ls_task(5000 + i, {"image": (16.0 - X[200 + i]).round(3).tolist()}, PROJECT) for i in range(80)]
        assert client.post("/predict", json=predict_payload(PROJECT, IMAGE_CONFIG, shifted)).status_code == 200
        with caplog.at_level(logging.WARNING, logger="labelsieve.quality.driftjob"):
            _annotate(client, X, given, range(120, 121))  # one more label: a retrain and a drift check
            _settle(client)
        status = client.get(f"/projects/{PROJECT}").json()
        drift = status["drift"]
        assert drift["detected"] is True and drift["features"]["detected"] is True
        assert drift["features"]["p_value"] < 0.01 and drift["features"]["mmd2"] > 0
        assert drift["features"]["n_new_tasks"] >= 80 and "audit_share" in drift["advice"]
        warnings = [r for r in caplog.records if "drift in the new tasks" in r.getMessage()]
        assert len(warnings) == 1 and "uniform random sample" in warnings[0].getMessage()
        health = client.get("/health").json()
        assert [d["project"] for d in health["drift"]] == [PROJECT]
        metrics = client.get("/metrics").text
        assert f'labelsieve_drift_detected{{kind="features",project="{PROJECT}"}} 1.0' in metrics
        assert np.isfinite(float(next(line.split()[-1] for line in metrics.splitlines()
                                      if line.startswith("labelsieve_drift_p_value{"))))
        page = client.get(f"/projects/{PROJECT}/page").text
        assert 'id="drift"' in page and "drift detected" in page
