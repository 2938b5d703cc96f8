"""Observer mode (domain part): rank images from another backend's stored box predictions, without training.

Another ML backend (e.g. a YOLO backend connected for pre-annotation) stores predictions whose regions carry a
per-box ``score``. :func:`detections_from_prediction` turns one stored prediction's ``result`` into
:class:`Detections` with scores only (no class distribution, no candidates), and :func:`observer_uncertainty`
ranks the images with the same aggregations as the trained detector (binary entropy of each box's score). Regions
without a score count as certain (score 1): a backend that writes no scores gives no ranking signal, and
:func:`observer_uncertainty` says so by raising when no region of the pool has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.detection.coords import BoxError, image_size_of, percent_to_pixels
from labelsieve.detection.prediction import Detections
from labelsieve.detection.uncertainty import pool_uncertainty


def detections_from_prediction(result: Sequence[dict[str, Any]], *, from_name: str,
                               labels: tuple[str, ...] | None = None) -> tuple[Detections, int]:
    """The scored boxes of one stored prediction, and how many of its regions carried a ``score``.

    Regions of other controls are ignored; regions that are not valid boxes (rotated, outside the image, unknown
    label) are left out, exactly as bad annotation boxes are."""
    boxes, names, scores, scored = [], [], [], 0
    width = height = None
    for region in result:
        if not isinstance(region, dict) or region.get("from_name") != from_name:
            continue
        try:
            box = percent_to_pixels(region, labels)
            width, height = image_size_of(region)
        except BoxError:
            continue
        raw = region.get("score")
        if isinstance(raw, int | float) and not isinstance(raw, bool) and np.isfinite(raw):
            scored += 1
            scores.append(float(np.clip(raw, 0.0, 1.0)))
        else:
            scores.append(1.0)
        boxes.append(box.as_array())
        names.append(box.label)
    array = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    return Detections(array, names, np.array(scores, dtype=np.float64), None, np.zeros(0), width, height), scored


def observer_uncertainty(results: Sequence[Sequence[dict[str, Any]]], *, from_name: str,
                         labels: tuple[str, ...] | None = None, aggregation: str = "sum") -> np.ndarray:
    """One uncertainty per task from another backend's stored predictions (higher = label sooner)."""
    parsed = [detections_from_prediction(r, from_name=from_name, labels=labels) for r in results]
    if parsed and not any(scored for _, scored in parsed):
        raise ValueError("the other backend's predictions carry no per-box score: nothing to rank by (its boxes "
                         "would all count as certain); ask it to write a score on every region")
    return pool_uncertainty([d for d, _ in parsed], aggregation=aggregation)
