"""mAP@0.5 and mAP@0.5:0.95 (and AP per class) by pycocotools' COCOeval: the maintained reference implementation."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget


@dataclass
class DetectionScores:
    map_50: float
    map_50_95: float
    ap_50_per_class: dict[str, float]  # NaN for a class absent from the ground truth


def _coco_box(box: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def mean_average_precision(
    truth: Sequence[ImageTarget], predicted: Sequence[Detections], classes: Sequence[str],
) -> DetectionScores:
    """COCO-style mAP over ``classes`` (classes absent from ``truth`` are left out of the mean, as COCOeval does)."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} ground-truth images but {len(predicted)} predictions")
    category = {name: i + 1 for i, name in enumerate(classes)}
    images, annotations, results = [], [], []
    for image_id, (target, found) in enumerate(zip(truth, predicted, strict=True), start=1):
        images.append({"id": image_id, "width": target.width or found.width or 1,
                       "height": target.height or found.height or 1})
        for box, label in zip(target.boxes, target.labels, strict=True):
            x, y, w, h = _coco_box(box)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category[label],
                                "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
        for box, label, score in zip(found.boxes, found.labels, found.scores, strict=True):
            if label in category:
                results.append({"image_id": image_id, "category_id": category[label], "bbox": _coco_box(box),
                                "score": float(score)})
    if not annotations:
        raise ValueError("the ground truth holds no box: mAP is undefined")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations,
                      "categories": [{"id": i, "name": n} for n, i in category.items()]}
        gt.createIndex()
        if not results:
            return DetectionScores(0.0, 0.0, {n: (0.0 if _present(truth, n) else float("nan")) for n in classes})
        dt = gt.loadRes(results)
        evaluator = COCOeval(gt, dt, iouType="bbox")
        evaluator.params.maxDets = [1, 10, 100]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # (iou, recall, class, area, maxdet)
    per_class: dict[str, float] = {}
    for name, cat in category.items():
        column = precision[0, :, cat - 1, 0, -1]
        per_class[name] = float(column[column > -1].mean()) if (column > -1).any() else float("nan")
    return DetectionScores(max(0.0, float(evaluator.stats[1])), max(0.0, float(evaluator.stats[0])), per_class)


def _present(truth: Sequence[ImageTarget], name: str) -> bool:
    return any(name in t.labels for t in truth)
