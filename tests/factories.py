"""Payloads shaped like the ones Label Studio 1.23 really sends (see shared/reference/label-studio.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

IMAGE_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<Choices name="label" toName="image" choice="single">'
    + "".join(f'<Choice value="{d}"/>' for d in range(10))
    + "</Choices></View>"
)
TEXT_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="sentiment" toName="text" choice="single">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)


def setup_payload(
    project_id: int, config: str, extra_params: Any = None, *, hostname: str = "", access_token: str = ""
) -> dict[str, Any]:
    """Label Studio also sends its hostname and the project creator's legacy token; tests without a Label
    Studio leave them empty so nothing tries to reach one."""
    return {"project": f"{project_id}.1795352218", "schema": config, "hostname": hostname,
            "access_token": access_token, "extra_params": extra_params}


def ls_task(task_id: int, data: dict[str, Any], project_id: int) -> dict[str, Any]:
    return {"id": task_id, "data": data, "meta": {}, "project": project_id, "is_labeled": False, "overlap": 1,
            "inner_id": task_id, "total_annotations": 0, "total_predictions": 0, "file_upload": None,
            "annotations": [], "predictions": [], "created_at": "2026-11-22T10:00:00Z",
            "updated_at": "2026-11-22T10:00:00Z"}


def predict_payload(project_id: int, config: str, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tasks": tasks, "project": f"{project_id}.1795352218", "label_config": config,
            "params": {"login": None, "password": None, "context": None}}


def project_dict(project_id: int, config: str) -> dict[str, Any]:
    return {"id": project_id, "title": f"project {project_id}", "label_config": config,
            "model_version": "", "sampling": "Sequential sampling", "show_collab_predictions": True}


def annotation_event(
    action: str, *, annotation_id: int, task: dict[str, Any], project_id: int, config: str,
    from_name: str, to_name: str, choice: str, lead_time: float = 3.2, cancelled: bool = False,
) -> dict[str, Any]:
    result = [] if cancelled else [
        {"id": f"r{annotation_id}", "from_name": from_name, "to_name": to_name, "type": "choices",
         "value": {"choices": [choice]}, "origin": "manual"}
    ]
    annotation = {"id": annotation_id, "result": result, "was_cancelled": cancelled, "ground_truth": False,
                  "lead_time": lead_time, "task": task["id"], "project": project_id, "completed_by": 1,
                  "prediction": {}, "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"}
    return {"action": action, "annotation": annotation, "task": task, "project": project_dict(project_id, config)}


def write_digits(root: Path, indices: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """Write scikit-learn's digits as 32×32 PNGs under ``root/images``; return relative paths, labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    indices = np.arange(len(digits.target)) if indices is None else indices
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in indices:
        pixels = (digits.images[i] / 16.0 * 255).astype(np.uint8)
        image = Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST)
        name = f"images/digit{i:04d}.png"
        image.save(root / name)
        paths.append(name)
    return paths, digits.target[indices]
