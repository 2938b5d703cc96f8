"""Labelled detection data from files: a Label Studio JSON export with rectangles, or a COCO annotation file.

Images are read from disk (``image_root``): a COCO ``file_name`` relative to it, a Label Studio local-files URL
(``/data/local-files/?d=<path>``), an upload URL (``/data/upload/<project>/<file>``, looked up by file name) or a
plain path. An image that fails to decode skips its task, and the reason is listed in ``skipped``; the data set
goes on. Bad boxes are left out per annotation and listed in ``rejected``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
from PIL import Image, UnidentifiedImageError

from labelsieve.detection.synthetic import DetectionDataset
from labelsieve.detection.targets import ImageTarget, parse_annotation, rescale


class DetectionDataError(ValueError):
    """The file is not a detection data set labelsieve can read; the message says why."""


@dataclass
class LoadedDetection:
    dataset: DetectionDataset
    skipped: list[str] = field(default_factory=list)  # "task 12: image ... does not decode (...)"
    rejected: list[str] = field(default_factory=list)  # "task 12 region 3: the box has zero area"


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")


def _resolve(reference: str, root: Path) -> Path:
    parsed = urlparse(reference)
    if parsed.path.startswith("/data/local-files") and "d" in parse_qs(parsed.query):
        return root / unquote(parse_qs(parsed.query)["d"][0])
    if parsed.path.startswith("/data/upload/"):
        return root / Path(unquote(parsed.path)).name
    return root / unquote(reference)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise DetectionDataError(f"{path} does not exist") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DetectionDataError(f"{path} is not valid JSON: {exc}") from exc


def load_coco(path: Path, *, image_root: Path | None = None) -> LoadedDetection:
    """A COCO ``instances`` file: ``images``, ``annotations`` (``bbox`` = x, y, w, h in pixels), ``categories``."""
    data = _read_json(path)
    if not isinstance(data, dict) or not {"images", "annotations", "categories"} <= set(data):
        raise DetectionDataError(f"{path} is not a COCO annotation file (needs images, annotations, categories)")
    root = Path(image_root) if image_root else Path(path).parent
    names = {c["id"]: str(c["name"]) for c in data["categories"]}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    out = LoadedDetection(DetectionDataset([], [], tuple(names.values())))
    for info in data["images"]:
        try:
            image = _open(root / info["file_name"])
        except (OSError, UnidentifiedImageError) as exc:
            out.skipped.append(f"image {info.get('id')}: {info.get('file_name')} does not decode ({exc})")
            continue
        boxes, labels = [], []
        for ann in by_image.get(info["id"], []):
            x, y, w, h = (float(v) for v in ann["bbox"])
            if ann.get("iscrowd"):
                continue
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > image.width + 0.5 or y + h > image.height + 0.5:
                out.rejected.append(f"image {info['id']} annotation {ann.get('id')}: box {ann['bbox']} has zero area "
                                    "or lies outside the image")
                continue
            if ann["category_id"] not in names:
                out.rejected.append(f"image {info['id']} annotation {ann.get('id')}: unknown category "
                                    f"{ann['category_id']}")
                continue
            boxes.append([x, y, min(x + w, image.width), min(y + h, image.height)])
            labels.append(names[ann["category_id"]])
        out.dataset.images.append(image)
        out.dataset.targets.append(ImageTarget(np.array(boxes, np.float32).reshape(-1, 4), labels,
                                               image.width, image.height))
    return out


def load_label_studio_boxes(path: Path, *, from_name: str | None = None, data_key: str | None = None,
                            image_root: Path | None = None) -> LoadedDetection:
    """A Label Studio JSON export of a ``<RectangleLabels>`` project (the first non-cancelled annotation per task).

    Classes are the labels found in the export (the config is not part of an export)."""
    tasks = _read_json(path)
    if not isinstance(tasks, list):
        raise DetectionDataError(f"{path} is not a Label Studio JSON export (a list of tasks)")
    root = Path(image_root) if image_root else Path(path).parent
    regions = [r for t in tasks for a in t.get("annotations", []) for r in a.get("result", [])
               if isinstance(r, dict) and r.get("type") == "rectanglelabels"]
    if not regions:
        raise DetectionDataError(f"{path} holds no rectanglelabels region: not a boxes project export")
    control = from_name or str(regions[0].get("from_name"))
    classes = tuple(sorted({str(n) for r in regions if r.get("from_name") == control
                            for n in (r.get("value") or {}).get("rectanglelabels") or []}))
    out = LoadedDetection(DetectionDataset([], [], classes))
    for task in tasks:
        annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
        if not annotations:
            continue
        data = task.get("data") or {}
        key = data_key or next((k for k, v in data.items() if isinstance(v, str)), None)
        if key is None or key not in data:
            out.skipped.append(f"task {task.get('id')}: no image field {data_key!r} in its data")
            continue
        try:
            image = _open(_resolve(str(data[key]), root))
        except (OSError, UnidentifiedImageError) as exc:
            out.skipped.append(f"task {task.get('id')}: image {data[key]} does not decode ({exc})")
            continue
        parsed = parse_annotation(annotations[0].get("result") or [], from_name=control, labels=classes)
        out.rejected.extend(f"task {task.get('id')} region {r.index}: {r.reason}" for r in parsed.rejected)
        out.dataset.images.append(image)
        out.dataset.targets.append(rescale(parsed.target, image.width, image.height))
    return out


def write_coco(dataset: DetectionDataset, folder: Path) -> Path:
    """Write ``dataset`` as PNG files plus ``annotations.json`` in COCO format (tests, benchmarks, examples)."""
    folder.mkdir(parents=True, exist_ok=True)
    category = {name: i + 1 for i, name in enumerate(dataset.classes)}
    images, annotations = [], []
    for i, (image, target) in enumerate(zip(dataset.images, dataset.targets, strict=True), start=1):
        name = f"img{i:05d}.png"
        image.save(folder / name)
        images.append({"id": i, "file_name": name, "width": image.width, "height": image.height})
        for box, label in zip(target.boxes, target.labels, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": category[label],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    path = folder / "annotations.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": i, "name": n} for n, i in category.items()]}))
    return path
