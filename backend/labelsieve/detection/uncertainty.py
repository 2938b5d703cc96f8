"""Per-box uncertainty and its aggregation into one number per image (higher = label sooner).

Per box (``measure``):
- ``entropy``: entropy of the box's softmax over background + classes, divided by its maximum ``log(1 + C)``;
- ``margin``: ``1 - (p1 - p2)`` over the same distribution (two most probable entries).
A foreign backend's boxes carry one score each and no distribution: the score is read as a two-way distribution
``(score, 1 - score)`` (binary entropy / margin), so ``probs`` are used whenever they exist.

Per image (``aggregation``): ``sum`` (Brust et al. 2019: best overall, favours crowded images), ``mean``, ``max``
(Lightly, FiftyOne). No threshold is applied before aggregating: the uncertain boxes are exactly the low-score ones.

An image with no detection is not given a placeholder: its uncertainty is the largest binary entropy (normalised to
[0, 1]) of "object vs background" over its top candidate regions (``Detections.candidate_background``). An image
the detector is sure is empty scores near 0; one whose best candidate is a coin flip scores near 1, like one box
of maximal doubt. A foreign backend's empty image has no candidates: it scores ``EMPTY_WITHOUT_CANDIDATES``.

Localisation stability (flip consistency) lives in :mod:`labelsieve.detection.flip` (it needs torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelsieve.detection.prediction import Detections

MEASURES = ("entropy", "margin")
AGGREGATIONS = ("sum", "mean", "max")
#: A foreign backend's image without a box and without candidates: as doubtful as one box of maximal doubt, so the
#: images such a backend found nothing in are neither all served first nor buried (see docs/object-detection.md).
EMPTY_WITHOUT_CANDIDATES = 1.0


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p)) / np.log(2.0)


def box_uncertainty(detections: Detections, measure: str = "entropy") -> np.ndarray:
    """One value in [0, 1] per box."""
    if measure not in MEASURES:
        raise ValueError(f"unknown per-box measure {measure!r}; choose one of {list(MEASURES)}")
    if len(detections) == 0:
        return np.zeros(0)
    if detections.probs is None:
        scores = np.clip(np.asarray(detections.scores, dtype=np.float64), 0.0, 1.0)
        return _binary_entropy(scores) if measure == "entropy" else 1.0 - np.abs(2.0 * scores - 1.0)
    probs = np.clip(np.asarray(detections.probs, dtype=np.float64), 1e-12, 1.0)
    if measure == "entropy":
        return -(probs * np.log(probs)).sum(axis=1) / np.log(probs.shape[1])
    top = np.sort(probs, axis=1)[:, -2:]
    return 1.0 - (top[:, 1] - top[:, 0])


def empty_image_uncertainty(detections: Detections) -> float:
    """The rule for an image with no detection (see the module docstring)."""
    background = np.asarray(detections.candidate_background, dtype=np.float64)
    if background.size == 0:
        return EMPTY_WITHOUT_CANDIDATES
    return float(_binary_entropy(background).max())


def image_uncertainty(detections: Detections, *, aggregation: str = "sum", measure: str = "entropy") -> float:
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {list(AGGREGATIONS)}")
    if len(detections) == 0:
        return empty_image_uncertainty(detections)
    values = box_uncertainty(detections, measure)
    return float({"sum": np.sum, "mean": np.mean, "max": np.max}[aggregation](values))


def pool_uncertainty(pool: Sequence[Detections], *, aggregation: str = "sum", measure: str = "entropy") -> np.ndarray:
    return np.array([image_uncertainty(d, aggregation=aggregation, measure=measure) for d in pool], dtype=np.float64)


def label_studio_example_score(detections: Detections, threshold: float = 0.5) -> float:
    """The task score of Label Studio's YOLO / mmdetection examples: mean of box scores >= 0.5, 0 when none.

    Label Studio serves the lowest score first, so as a priority (higher = sooner) it is ``-score``."""
    kept = np.asarray(detections.scores, dtype=np.float64)
    kept = kept[kept >= threshold]
    return float(kept.mean()) if kept.size else 0.0

