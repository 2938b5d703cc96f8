"""Per-round scores on held-out data: accuracy, macro/weighted F1, balanced accuracy, G-mean, per-class recall,
precision and (given probabilities) average precision.

``METRICS`` names the scalar ones a savings target can be set on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
)

METRICS = ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "g_mean")


def per_class_average_precision(y_true: np.ndarray, proba: np.ndarray, proba_classes: Sequence[str],
                                labels: Sequence[str]) -> dict[str, float | None]:
    """One-vs-rest average precision (area under the precision-recall curve) per class; None for a class the
    test set lacks. A class the model never saw scores as probability 0 everywhere."""
    column = {c: k for k, c in enumerate(proba_classes)}
    out: dict[str, float | None] = {}
    for c in labels:
        positive = y_true == c
        if not positive.any():
            out[c] = None
            continue
        scores = proba[:, column[c]] if c in column else np.zeros(len(y_true))
        out[c] = float(average_precision_score(positive, scores))
    return out


def score_predictions(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str], *,
                      proba: np.ndarray | None = None, proba_classes: Sequence[str] = ()) -> dict[str, object]:
    """Scalar metrics plus ``per_class_recall`` and ``per_class_precision`` ({class: value}) over every class of
    the data set, and ``per_class_ap`` when the model's probabilities (columns ``proba_classes``) are given."""
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    labels = list(classes)
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    precisions = precision_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    extra: dict[str, object] = {}
    if proba is not None:
        extra["per_class_ap"] = per_class_average_precision(y_true, proba, proba_classes, labels)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        # multiclass G-mean = geometric mean of per-class recalls; a missed class gives 0
        "g_mean": float(geometric_mean_score(y_true, y_pred, labels=labels, average="multiclass")),
        "per_class_recall": {label: float(r) for label, r in zip(labels, recalls, strict=True)},
        "per_class_precision": {label: float(p) for label, p in zip(labels, precisions, strict=True)},
        **extra,
    }
