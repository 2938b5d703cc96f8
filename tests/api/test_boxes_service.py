"""Boxes projects through the service: /setup (RectangleLabels served, polygons and strategies that do not serve
boxes refused), the detector trained in the loop from webhook annotations on generated shapes, the pool ranked by the
task type's default aggregation, /predict with a ``score`` on every box behind the pre-annotation gate, a task whose
image does not decode skipped with its error while the round goes on, and a detector that cannot fit recorded while
the last good model keeps serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.detection.coords import pixels_to_percent
from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.targets import ImageTarget
from tests.api.helpers import wait_trained
from tests.factories import ls_task, predict_payload, project_dict, setup_payload

BOXES = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
         '<Label value="square"/><Label value="disc"/><Label value="triangle"/><Label value="cross"/>'
         '</RectangleLabels></View>')
POLYGONS = ('<View><Image name="img" value="$image"/><PolygonLabels name="p" toName="img">'
            '<Label value="car"/></PolygonLabels></View>')
DETECTOR = {"epochs": 12, "min_steps": 80, "device": "cpu"}


def box_result(target: ImageTarget) -> list[dict]:
    return [pixels_to_percent(box, label, image_width=int(target.width), image_height=int(target.height),
                              from_name="box", to_name="img") for box, label in zip(target.boxes, target.labels,
                                                                                     strict=True)]


def write_shapes(root: Path, folder: str, n: int, seed: int) -> tuple[list[str], list[ImageTarget]]:
    data = make_shapes(n, size=64, seed=seed)
    (root / folder).mkdir(parents=True, exist_ok=True)
    paths = []
    for k, image in enumerate(data.images):
        image.save(root / folder / f"{k:03d}.png")
        paths.append(f"{folder}/{k:03d}.png")
    return paths, data.targets


def image_task(task_id: int, path: str, project: int) -> dict:
    return ls_task(task_id, {"image": f"/data/local-files/?d={path}"}, project)


def event(annotation_id: int, task: dict, project: int, result: list[dict]) -> dict:
    annotation = {"id": annotation_id, "result": result, "was_cancelled": False, "ground_truth": False,
                  "lead_time": 9.0, "task": task["id"], "project": project, "completed_by": 1}
    return {"action": "ANNOTATION_CREATED", "annotation": annotation, "task": task,
            "project": project_dict(project, BOXES)}


def train(client, project: int, extra: dict, n_labelled: int = 30) -> tuple[list[dict], list[ImageTarget]]:
    """Set up, send ``n_labelled`` annotated shapes images by webhook, register a pool of 20, retrain."""
    root = client.app.state.service.settings.local_files_document_root
    assert client.post("/setup", json=setup_payload(project, BOXES, extra)).status_code == 200
    paths, targets = write_shapes(root, f"train{project}", n_labelled, seed=5)
    pool_paths, pool_targets = write_shapes(root, f"pool{project}", 20, seed=6)
    (root / f"pool{project}" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    pool = [image_task(7000 + k, p, project) for k, p in enumerate(pool_paths)]
    pool.append(image_task(7999, f"pool{project}/broken.png", project))
    assert client.post("/predict", json=predict_payload(project, BOXES, pool)).status_code == 200
    for k, (path, target) in enumerate(zip(paths, targets, strict=True)):
        task = image_task(6000 + k, path, project)
        assert client.post("/webhook", json=event(9000 + k, task, project, box_result(target))).status_code == 200
    client.post("/webhook", json={"action": "START_TRAINING", "project": project_dict(project, BOXES)})
    wait_trained(client)
    return pool, pool_targets


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


def test_detector_trains_in_the_loop_ranks_and_predicts_boxes(client) -> None:
    project = 93
    extra = {"retrain_every": 1000, "preannotate_threshold": 0, "learner_params": DETECTOR, "device": "cpu"}
    pool, pool_targets = train(client, project, extra)
    status = client.get(f"/projects/{project}").json()
    assert status["model_version"] and status["model_version"] != "labelsieve-v0"
    assert status["last_round"]["strategy"] == "task_uncertainty"
    assert status["input_errors"]["count"] == 1 and "7999" in status["input_errors"]["tasks"], status["input_errors"]
    assert status["class_counts"] or status["labeled_tasks"] == 30

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
    failed = [v for v in status["versions"] if v["status"] == "failed"]
    assert failed and "diverged" in failed[-1]["error"], status["versions"]
    page = client.get(f"/projects/{project}/page")
    assert page.status_code == 200 and "diverged" in page.text


@pytest.mark.parametrize("device", ["cuda"])
def test_cuda_device_reaches_the_detector_or_is_refused_cleanly(client, device: str) -> None:
    import torch

    response = client.post("/setup", json=setup_payload(95, BOXES, {"device": device}))
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine: the CUDA + mixed-precision detector path is not run")
    assert response.status_code == 200
