"""An image project in a real Label Studio: scikit-learn digits as PNGs served through local-files storage."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.e2e.helpers import backend_status, project
from tests.harness.labelstudio import LabelStudioServer

IMAGE_CONFIG = ('<View><Image name="image" value="$image"/><Choices name="digit" toName="image" choice="single">'
                + "".join(f'<Choice value="{d}"/>' for d in range(10)) + "</Choices></View>")
#: small and fast: 20 epochs without augmentation reach ~0.85 on unseen digits from 100 labels (1-2 s a fit)
IMAGE_EXTRA = {"learner": "image", "learner_params": {"epochs": 20, "augment": None, "lr": 0.005},
               "retrain_every": 40, "strategy": "margin", "min_annotations": 20, "queue_depth": "all",
               "preannotate_threshold": 0}  # gate off: the tests read accuracy from the pushed labels


def write_digit_pngs(folder: Path, n: int) -> dict[str, str]:
    """The first ``n`` digits as 32×32 PNGs in ``folder``; file name → true digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(n):
        name = f"digit_{i:04d}.png"
        if not (folder / name).exists():
            pixels = (digits.images[i] * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST).save(folder / name)
        truth[name] = str(int(digits.target[i]))
    return truth


def create_image_project(ls: LabelStudioServer, title: str, n: int) -> tuple[int, dict[int, str]]:
    """A digits project whose tasks come from a Local Storage sync; (project id, task id → true digit)."""
    truth_by_name = write_digit_pngs(ls.files_root / f"digits{n}", n)
    pid = int(ls.api("POST", "/api/projects", json={"title": title, "label_config": IMAGE_CONFIG}).json()["id"])
    storage = ls.api("POST", "/api/storages/localfiles", json={
        "project": pid, "path": str(ls.files_root / f"digits{n}"), "regex_filter": r".*\.png",
        "use_blob_urls": True, "title": "digits"})
    assert storage.status_code == 201, storage.text
    synced = ls.api("POST", f"/api/storages/localfiles/{storage.json()['id']}/sync")
    assert synced.status_code == 200, synced.text
    tasks = ls.api("GET", f"/api/projects/{pid}/export", params={"exportType": "JSON", "download_all_tasks": "true"})
    truth = {}
    for task in sorted(tasks.json(), key=lambda t: t["data"]["image"]):
        assert task["data"]["image"].startswith("/data/local-files/?d="), task["data"]
        truth[int(task["id"])] = truth_by_name[task["data"]["image"].rsplit("/", 1)[-1]]
    assert len(truth) == n
    return pid, truth


def annotate_digit(ls: LabelStudioServer, task_id: int, digit: str) -> int:
    result = [{"from_name": "digit", "to_name": "image", "type": "choices", "value": {"choices": [digit]}}]
    for _ in range(10):  # LS on SQLite answers 500 "database is locked" while a bulk import writes
        response = ls.api("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result})
        if response.status_code != 500:
            break
        time.sleep(0.5)
    assert response.status_code == 201, response.text[:300]
    return int(response.json()["id"])


def wait_live_model(ls: LabelStudioServer, server_url: str, pid: int, *, n_train: int,
                    timeout: float = 120.0) -> str:
    """Wait until labelsieve's model trained on ``n_train`` labels is the project's model_version in LS."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backend_status(server_url, pid)
        ready = [v for v in status["versions"] if v["status"] == "ready" and v["n_train"] >= n_train]
        if ready and project(ls, pid).get("model_version") == ready[-1]["version"]:
            return str(ready[-1]["version"])
        time.sleep(0.5)
    raise AssertionError(f"no model trained on {n_train} labels went live: {status['versions'][-3:]}")
