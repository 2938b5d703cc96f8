"""Per-round scores on held-out data: accuracy, macro/weighted F1, balanced accuracy, G-mean, per-class recall,
precision and (given probabilities) average precision.

``METRICS`` names the scalar ones a savings target can be set on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    hamming_loss,
    precision_score,
    recall_score,
)

from labelsieve.inputs import InputLoader, LoadedInputs
from labelsieve.simulate.datasets import Dataset
from labelsieve.simulate.splits import Split

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


def score_label_sets(truth: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], classes: Sequence[str], *,
                     proba: np.ndarray | None = None, proba_classes: Sequence[str] = ()) -> dict[str, object]:
    """:func:`score_predictions` for multi-label items, the same keys (so the savings report reads them), with
    multi-label meanings: ``accuracy`` is subset accuracy (the exact set), ``macro_f1``/``weighted_f1`` average
    the per-label F1, ``balanced_accuracy`` is the mean per-label balanced accuracy, ``g_mean`` the geometric mean
    of the per-label recalls; plus ``micro_f1``, ``subset_accuracy`` and ``hamming_loss``."""
    labels = list(classes)
    index = {c: j for j, c in enumerate(labels)}

    def matrix(sets: Sequence[Sequence[str]]) -> np.ndarray:
        out = np.zeros((len(sets), len(labels)), dtype=np.int64)
        for i, labels_i in enumerate(sets):
            out[i, [index[c] for c in labels_i if c in index]] = 1
        return out

    y_true, y_pred = matrix(truth), matrix(predicted)
    recalls = recall_score(y_true, y_pred, average=None, zero_division=0)
    precisions = precision_score(y_true, y_pred, average=None, zero_division=0)
    balanced = [balanced_accuracy_score(y_true[:, j], y_pred[:, j]) if len(set(y_true[:, j])) > 1
                else float(np.mean(y_true[:, j] == y_pred[:, j])) for j in range(len(labels))]
    extra: dict[str, object] = {}
    if proba is not None:
        column = {c: k for k, c in enumerate(proba_classes)}
        extra["per_class_ap"] = {
            c: (float(average_precision_score(y_true[:, j], proba[:, column[c]] if c in column
                                              else np.zeros(len(y_true)))) if y_true[:, j].any() else None)
            for j, c in enumerate(labels)}
    subset = float(accuracy_score(y_true, y_pred))
    return {
        "accuracy": subset, "subset_accuracy": subset,
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "balanced_accuracy": float(np.mean(balanced)),
        "g_mean": float(np.prod(np.maximum(recalls, 0.0)) ** (1.0 / max(len(labels), 1))),
        "per_class_recall": {c: float(r) for c, r in zip(labels, recalls, strict=True)},
        "per_class_precision": {c: float(p) for c, p in zip(labels, precisions, strict=True)},
        **extra,
    }


def score_learner(learner: Any, inputs: Any, truth: Sequence[str], classes: Sequence[str], *,
                  multi_label: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scores of a fitted ``learner`` on held-out ``inputs`` with labels ``truth`` (multi-label: ``a|b`` sets,
    predicted at the learner's ``thresholds_``), and ``{proba, classes, truth}`` for the report's curves."""
    proba = np.asarray(learner.predict_proba(inputs))
    kept = {"proba": proba, "classes": list(learner.classes_), "truth": list(truth)}
    if multi_label:
        chosen = proba >= learner.thresholds_
        predicted_sets = [[learner.classes_[j] for j in np.flatnonzero(row)] for row in chosen]
        scores = score_label_sets([t.split("|") for t in truth], predicted_sets, classes,
                                  proba=proba, proba_classes=list(learner.classes_))
        return scores, kept
    predicted = [learner.classes_[i] for i in np.argmax(proba, axis=1)]
    return score_predictions(truth, predicted, classes, proba=proba, proba_classes=list(learner.classes_)), kept


class HeldOutSet:
    """The items that score a simulation's rounds: each seed's test split, or one fixed test set for every seed.

    Their inputs are decoded once per seed (once in all for a fixed test set), not once per round."""

    def __init__(self, *, dataset: Dataset, datas: list[dict[str, Any]], test_dataset: Dataset | None = None,
                 test_datas: list[dict[str, Any]] | None = None) -> None:
        self.dataset = dataset
        self.datas = datas
        self.test_dataset = test_dataset
        self.test_datas = test_datas
        self._decoded: dict[int, LoadedInputs] = {}

    def items(self, split: Split) -> tuple[list[dict[str, Any]], np.ndarray, int]:
        """Task data and labels of the items that score the rounds, and the cache key of their inputs."""
        if self.test_dataset is not None and self.test_datas is not None:
            return self.test_datas, self.test_dataset.labels, -1  # one fixed test set for every seed
        return [self.datas[i] for i in split.test], self.dataset.labels[split.test], split.seed

    def inputs(self, split: Split, loader: InputLoader) -> LoadedInputs:
        """The decoded held-out inputs of ``split`` (``LoadedInputs``), decoded by ``loader`` the first time."""
        datas, _, key = self.items(split)
        held = self._decoded.get(key)
        if held is None:
            held = self._decoded[key] = loader.load(datas)
        return held

    def score(self, learner: Any, loader: InputLoader, split: Split) -> tuple[dict[str, Any], dict[str, Any]]:
        """Held-out scores of ``learner`` and ``{proba, classes, truth}``."""
        _, labels, _ = self.items(split)
        held = self.inputs(split, loader)
        truth = [str(labels[i]) for i in held.positions]
        return score_learner(learner, held.inputs, truth, self.dataset.classes, multi_label=self.dataset.multi_label)
