"""Label issues of labelled boxes with cleanlab's object-detection module (swapped class, bad location, overlooked).

cleanlab's ``object_detection.filter.find_label_issues`` opens a ``multiprocessing.Pool`` (a fork on Linux) for its
per-class AP thresholds whatever the arguments, and forking this multi-threaded service can leave a child holding a
copied lock forever (see labelsieve/cleanlab_calls.py). So only the fork-free ``object_detection.rank`` functions
are used: the per-image label quality score and the three per-box subtype scores; a box is flagged when its subtype
score is below ``box_threshold`` and an image when its quality is below ``image_threshold``
(``issues_from_scores``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cleanlab.object_detection import rank

from labelsieve.cleanlab_calls import CLEANLAB_LOCK
from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget

ISSUE_KINDS = ("swap", "badloc", "overlooked")


@dataclass
class BoxIssues:
    quality: np.ndarray  # per image, cleanlab label quality in [0, 1] (low = likely wrong)
    flagged: np.ndarray  # per image, bool
    per_box: list[dict[str, np.ndarray]]  # per image: swap / badloc per labelled box, overlooked per predicted box
    #                                     (in the order of the Detections given, 1.0 for a box of no known class)


def _cleanlab_inputs(targets: Sequence[ImageTarget], predicted: Sequence[Detections],
                     classes: Sequence[str]) -> tuple[list[dict], list[np.ndarray], list[np.ndarray]]:
    """cleanlab's labels and predictions, and per image the index (in ``predicted``) of each box in cleanlab's
    order: one block per class, in class order (cleanlab concatenates the blocks, and its per-predicted-box scores
    come in that order)."""
    index = {name: i for i, name in enumerate(classes)}
    labels = [{"bboxes": np.asarray(t.boxes, dtype=np.float32).reshape(-1, 4),
               "labels": np.array([index[n] for n in t.labels], dtype=np.int64)} for t in targets]
    predictions, orders = [], []
    for found in predicted:
        per_class, order = [], []
        for name in classes:
            rows = [i for i, n in enumerate(found.labels) if n == name]
            order.extend(rows)
            block = np.zeros((len(rows), 5), dtype=np.float32)
            if rows:
                block[:, :4] = found.boxes[rows]
                block[:, 4] = found.scores[rows]
            per_class.append(block)
        holder = np.empty(len(classes), dtype=object)  # cleanlab's shape: one (m, 5) array per class
        for j, block in enumerate(per_class):
            holder[j] = block
        predictions.append(holder)
        orders.append(np.asarray(order, dtype=np.int64))
    return labels, predictions, orders


def _in_output_order(scores: np.ndarray, order: np.ndarray, n_boxes: int) -> np.ndarray:
    """Per-predicted-box scores from cleanlab's class-block order back to the order of the image's Detections."""
    out = np.ones(n_boxes, dtype=np.float64)
    out[order] = scores[: len(order)]
    return out


def find_box_issues(
    targets: Sequence[ImageTarget], predicted: Sequence[Detections], classes: Sequence[str], *,
    image_threshold: float = 0.5, box_threshold: float = 0.3,
) -> BoxIssues:
    """``predicted`` must come from a model that did not train on these images (out-of-fold), as for any label
    issue finder; with in-sample predictions the model agrees with its own training labels."""
    if len(targets) != len(predicted):
        raise ValueError(f"{len(targets)} targets but {len(predicted)} predictions")
    labels, predictions, orders = _cleanlab_inputs(targets, predicted, classes)
    with CLEANLAB_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quality = np.asarray(rank.get_label_quality_scores(labels, predictions, verbose=False), dtype=np.float64)
        swap = rank.compute_swap_box_scores(labels=labels, predictions=predictions)
        badloc = rank.compute_badloc_box_scores(labels=labels, predictions=predictions)
        overlooked = rank.compute_overlooked_box_scores(labels=labels, predictions=predictions)
    per_box = [{"swap": np.nan_to_num(np.asarray(s, np.float64), nan=1.0),
                "badloc": np.nan_to_num(np.asarray(b, np.float64), nan=1.0),
                "overlooked": _in_output_order(np.nan_to_num(np.asarray(o, np.float64), nan=1.0), order, len(found))}
               for s, b, o, order, found in zip(swap, badloc, overlooked, orders, predicted, strict=True)]
    flagged = quality < image_threshold
    for i, scores in enumerate(per_box):
        if any((scores[k] < box_threshold).any() for k in ISSUE_KINDS):
            flagged[i] = True
    return BoxIssues(quality=quality, flagged=flagged, per_box=per_box)
