"""Boxes projects through the service: /setup (RectangleLabels served, polygons and strategies that do not serve
boxes refused), the detector trained in the loop from webhook annotations on generated shapes, the pool ranked by the
task type's default aggregation, /predict with a ``score`` on every box behind the pre-annotation gate, a task whose
image does not decode skipped with its error while the round goes on, and a detector that cannot fit recorded while
the last good model keeps serving."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.helpers import wait_trained
from tests.detection.service_data import BOXES, DETECTOR, train
from tests.factories import predict_payload, project_dict, setup_payload


@pytest.fixture
def database_url(tmp_path) -> str:  # the detector's rounds store the same rows on either database: SQLite only
    return f"sqlite:///{tmp_path / 'boxes.sqlite3'}"


POLYGONS = ('<View><Image name="img" value="$image"/><PolygonLabels name="p" toName="img">'
            '<Label value="car"/></PolygonLabels></View>')


def test_setup_serves_rectangles_and_refuses_polygons_and_foreign_strategies(client) -> None:
    assert client.post("/setup", json=setup_payload(91, BOXES)).status_code == 200
    assert client.post("/setup", json=setup_payload(91, BOXES, {"strategy": "coreset"})).status_code == 200
    response = client.post("/setup", json=setup_payload(91, BOXES, {"strategy": "margin"}))
    assert response.status_code == 400 and "'margin'" in response.text and "'boxes'" in response.text
    response = client.post("/setup", json=setup_payload(92, POLYGONS))
    assert response.status_code == 400 and "segmentation task type" in response.text
    response = client.post("/setup", json=setup_payload(91, BOXES, {"balancing": "oversample"}))
    assert response.status_code == 400


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union) if union > 0 else 0.0


@pytest.mark.slow
def test_detector_trains_in_the_loop_ranks_and_predicts_boxes(client) -> None:
    project = 93
    extra = {"retrain_every": 1000, "preannotate_threshold": 0, "learner_params": DETECTOR, "device": "cpu"}
    pool, pool_targets = train(client, project, extra)
    status = client.get(f"/projects/{project}").json()
    assert status["model_version"] and status["model_version"] != "labelsieve-v0"
    assert status["last_round"]["strategy"] == "task_uncertainty"
    assert status["input_errors"]["count"] == 1 and "7999" in status["input_errors"]["tasks"], status["input_errors"]
    page = client.get(f"/projects/{project}/page").text
    assert "1 task(s) skipped: their media did not load" in page and "task 7999:" in page, "the page shows the skip"
    assert status["labeled_tasks"] == 30 and status["class_counts"].get("square", 0) > 0, status["class_counts"]

    body = client.post("/predict", json=predict_payload(project, BOXES, pool))
    assert body.status_code == 200, body.text
    results = body.json()["results"]
    assert len(results) == len(pool) and results[-1]["result"] == []  # the broken image: an empty prediction
    ranked = results[:-1]
    assert len({r["score"] for r in ranked}) == len(ranked), "every pooled task has its own rank-encoded score"
    matched = total = 0
    for r, truth in zip(ranked, pool_targets, strict=True):
        assert 0 < r["score"] < 1
        for region in r["result"]:
            assert region["type"] == "rectanglelabels" and 0 < region["score"] <= 1, region
            assert (region["original_width"], region["original_height"]) == (64, 64)
        predicted = [(np.array([g["value"]["x"], g["value"]["y"], g["value"]["x"] + g["value"]["width"],
                                g["value"]["y"] + g["value"]["height"]]) * 0.64, g["value"]["rectanglelabels"][0])
                     for g in r["result"]]
        for box, label in zip(truth.boxes, truth.labels, strict=True):
            total += 1
            matched += any(iou(box, p) >= 0.5 and name == label for p, name in predicted)
    assert total and matched >= 0.4 * total, f"only {matched} of {total} true boxes found at IoU 0.5"

    # the ranking follows the task type's default aggregation (sum of per-box entropies): most uncertain first
    service = client.app.state.service
    version, learner = service.loop.serving_model(service.loop.project(project))
    served = service.loop.served(BOXES)
    images = [service.loop.input_loader(service.loop.project(project), "image").load([t["data"]]).inputs[0]
              for t in pool[:-1]]
    uncertainty = served.task_type.task_uncertainty(learner.predict_regions(images))
    order = np.argsort([r["score"] for r in ranked])
    assert uncertainty[order[0]] >= np.quantile(uncertainty, 0.75) - 1e-6, (uncertainty, order)


@pytest.mark.slow
def test_gate_keeps_boxes_back_without_evidence_and_failed_fit_keeps_the_last_model(client) -> None:
    project = 94
    extra = {"retrain_every": 1000, "learner_params": DETECTOR}  # default gate: needs prequential evidence
    pool, _ = train(client, project, extra, n_labelled=12)
    first = client.get(f"/projects/{project}").json()["model_version"]
    results = client.post("/predict", json=predict_payload(project, BOXES, pool[:5])).json()["results"]
    assert all(r["result"] == [] and 0 < r["score"] < 1 for r in results), "boxes held back behind the gate"

    broken = {**extra, "learner_params": {**DETECTOR, "lr": 1e30, "min_steps": 4, "epochs": 1}}
    assert client.post("/setup", json=setup_payload(project, BOXES, broken)).status_code == 200
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(project, BOXES)})
    wait_trained(client)
    status = client.get(f"/projects/{project}").json()
    assert status["model_version"] == first, "the last good detector keeps serving"
    served = client.post("/predict", json=predict_payload(project, BOXES, pool[:5])).json()["results"]
    assert [r["model_version"] for r in served] == [first] * 5 and all(0 < r["score"] < 1 for r in served)
    failed = [v for v in status["versions"] if v["status"] == "failed"]
    assert failed and "diverged" in failed[-1]["error"], status["versions"]
    page = client.get(f"/projects/{project}/page")
    assert page.status_code == 200 and "diverged" in page.text


@pytest.mark.slow
def test_the_device_setting_reaches_the_detector(client) -> None:
    """``device: cuda`` trains on the GPU in mixed precision where there is one; without one the round fails with a
    message naming the device, and nothing serves a half-trained model."""
    import torch

    project = 95
    params = {k: v for k, v in DETECTOR.items() if k != "device"}  # "auto": the round's device decides
    train(client, project, {"retrain_every": 1000, "device": "cuda", "learner_params": params}, n_labelled=8)
    status = client.get(f"/projects/{project}").json()
    if not torch.cuda.is_available():
        assert status["model_version"] is None
        assert "CUDA is not available" in status["versions"][-1]["error"], status["versions"]
        pytest.skip("no CUDA GPU here: the refusal is checked, the CUDA + mixed-precision round is not run")
    service = client.app.state.service
    _, learner = service.loop.serving_model(service.loop.project(project))
    assert status["versions"][-1]["status"] == "ready" and next(learner.model_.parameters()).is_cuda
