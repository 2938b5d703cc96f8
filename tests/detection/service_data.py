"""A boxes project fed through the service's webhooks: generated shapes PNGs under the local-files root, annotations
in Label Studio's rectanglelabels format, a pool registered by /predict (with one image that does not decode)."""

from __future__ import annotations

from pathlib import Path

from labelsieve.detection.coords import pixels_to_percent
from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.targets import ImageTarget
from tests.factories import ls_task, predict_payload, project_dict, setup_payload

BOXES = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
         '<Label value="square"/><Label value="disc"/><Label value="triangle"/><Label value="cross"/>'
         '</RectangleLabels></View>')
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


def wait_round(app, project: int) -> None:
    """Apply what was posted and run the retrain it asks for (with or without the app's own workers)."""
    app.state.service.worker.notify(project)
    assert app.state.service.worker.wait_idle(300), "worker did not go idle"


def train(client, project: int, extra: dict, n_labelled: int = 30, *, app=None) -> tuple[list[dict], list[ImageTarget]]:
    """Set up, send ``n_labelled`` annotated shapes images by webhook, register a pool of 20 (and one image that
    does not decode), retrain. ``client``: a TestClient, or an httpx client of a live server (``app`` given)."""
    app = app or client.app
    root = app.state.service.settings.local_files_document_root
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
    wait_round(app, project)
    return pool, pool_targets


def label_pool(client, app, project: int, pool: list[dict], targets: list[ImageTarget], n: int) -> None:
    """Label the first ``n`` pool images (their true boxes) while the trained detector serves."""
    for k, (task, target) in enumerate(list(zip(pool, targets, strict=False))[:n]):
        assert client.post("/webhook", json=event(9500 + k, task, project, box_result(target))).status_code == 200
    wait_round(app, project)
