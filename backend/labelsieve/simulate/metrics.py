"""Per-round scores on held-out data: accuracy, macro/weighted F1, balanced accuracy, G-mean, recall.

``METRICS`` names the scalar ones a savings target can be set on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

METRICS = ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "g_mean")


def score_predictions(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> dict[str, object]:
    """Scalar metrics plus ``per_class_recall`` ({class: recall}) over every class of the data set."""
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    labels = list(classes)
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        # multiclass G-mean = geometric mean of per-class recalls; a missed class gives 0
        "g_mean": float(geometric_mean_score(y_true, y_pred, labels=labels, average="multiclass")),
        "per_class_recall": {label: float(r) for label, r in zip(labels, recalls, strict=True)},
    }
