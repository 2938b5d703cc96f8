"""Multi-label numbers: per-label uncertainty aggregations, set confidence, metrics and cleanlab label issues
(and the single-label one, through :func:`labelsieve.cleanlab_calls.class_issues` as the scorecard's).

``probas`` is ``(n, n_labels)``: column ``j`` is the model's probability that label ``j`` applies (one-vs-rest,
the rows do not sum to 1). ``thresholds`` (``n_labels``) are the per-label decision thresholds (0.5 when absent).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from cleanlab.multilabel_classification.filter import find_label_issues
from cleanlab.multilabel_classification.rank import get_label_quality_scores
from sklearn.metrics import accuracy_score, f1_score, hamming_loss

from labelsieve.cleanlab_calls import CLEANLAB_LOCK, class_issues
from labelsieve.tasktypes.base import TaskLabelIssues

AGGREGATIONS: dict[str, str] = {
    "mean": "mean over labels of the binary entropy H(p_j) (in bits, 0..1)",
    "max": "max over labels of the binary entropy: the single most uncertain label",
    "min_margin": "1 - the smallest distance of any p_j from its threshold, scaled to 0..1",
}


def binary_entropy(probas: np.ndarray) -> np.ndarray:
    p = np.clip(probas, 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def _thresholds(probas: np.ndarray, thresholds: np.ndarray | None) -> np.ndarray:
    if thresholds is None:
        return np.full(probas.shape[1], 0.5)
    return np.clip(np.asarray(thresholds, dtype=np.float64), 1e-6, 1 - 1e-6)


def aggregate(probas: np.ndarray, aggregation: str, thresholds: np.ndarray | None = None) -> np.ndarray:
    """One uncertainty per task (higher = label sooner) from the per-label probabilities."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown multi-label aggregation {aggregation!r}; choose from {sorted(AGGREGATIONS)}")
    if probas.shape[0] == 0:
        return np.zeros(0)
    if probas.shape[1] == 0:
        return np.zeros(probas.shape[0])
    if aggregation == "mean":
        return binary_entropy(probas).mean(axis=1)
    if aggregation == "max":
        return binary_entropy(probas).max(axis=1)
    t = _thresholds(probas, thresholds)
    margin = np.abs(probas - t) / np.maximum(t, 1 - t)
    return 1.0 - margin.min(axis=1)


def set_confidence(probas: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """P(the predicted set is exactly right) under label independence: ``prod_j max(p_j, 1 - p_j)`` over the
    decisions the thresholds make (a label taken contributes ``p_j``, one left out ``1 - p_j``)."""
    if probas.shape[0] == 0:
        return np.zeros(0)
    t = _thresholds(probas, thresholds)
    taken = probas >= t
    per_label = np.where(taken, probas, 1 - probas)
    return np.exp(np.log(np.clip(per_label, 1e-12, 1.0)).sum(axis=1))


def indicator(targets: Sequence[Sequence[str] | None], labels: Sequence[str]) -> np.ndarray:
    """``(n, n_labels)`` 0/1 matrix of label sets (``None`` rows are all zero)."""
    index = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(targets), len(labels)), dtype=np.int64)
    for i, target in enumerate(targets):
        for label in target or ():
            if label in index:
                out[i, index[label]] = 1
    return out


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """micro/macro F1, subset accuracy (exact set) and Hamming loss (share of wrong label decisions)."""
    return {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
    }


def multilabel_issues(targets: Sequence[Sequence[str]], probas: np.ndarray, labels: Sequence[str],
                      ) -> TaskLabelIssues:
    """cleanlab's multi-label confident learning on out-of-fold per-label probabilities.

    ``issue_score`` is ``1 - get_label_quality_scores`` (self-confidence per label, pooled); ``flagged`` is
    ``find_label_issues`` (``n_jobs=1``: never fork this multi-threaded process); the suggestion is the set of
    labels with out-of-fold probability >= 0.5 and its confidence the set's probability."""
    index = {label: j for j, label in enumerate(labels)}
    given = [sorted(index[label] for label in target if label in index) for target in targets]
    pred = np.clip(probas, 1e-6, 1 - 1e-6)
    quality = get_label_quality_scores(given, pred)
    with CLEANLAB_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(given, pred, n_jobs=1)
    chosen = pred >= 0.5
    return TaskLabelIssues(
        issue_score=1.0 - np.asarray(quality, dtype=np.float64),
        flagged=np.asarray(flagged, dtype=bool),
        suggested=[tuple(labels[j] for j in np.flatnonzero(row)) for row in chosen],
        suggested_confidence=set_confidence(pred, np.full(pred.shape[1], 0.5)),
        reasons=[set_reason(g, row, labels) for g, row in zip(given, pred, strict=True)],
    )


def set_reason(given: Sequence[int], probas: np.ndarray, labels: Sequence[str]) -> str:
    """Which labels of one task the out-of-fold model disputes, the most disputed first: a given label it puts
    under 0.5 ("likely wrong") and a label not given it puts at 0.5 or more ("likely missing")."""
    taken = set(given)
    parts = []
    for j in np.argsort(-np.abs(probas - np.isin(np.arange(len(labels)), list(taken))), kind="stable"):
        p = float(probas[j])
        if j in taken and p < 0.5:
            parts.append(f"{labels[j]!r} given, likely wrong (model {p:.2f})")
        elif j not in taken and p >= 0.5:
            parts.append(f"{labels[j]!r} likely missing (model {p:.2f})")
    return "; ".join(parts) or "label set doubtful: no single label's decision flips at 0.5"


def single_label_issues(targets: Sequence[str], probas: np.ndarray, labels: Sequence[str]) -> TaskLabelIssues:
    """Confident learning on out-of-fold class probabilities (``prune_by_noise_rate``, ``n_jobs=1``), ranked by
    self-confidence; the suggestion is the out-of-fold argmax."""
    index = {label: j for j, label in enumerate(labels)}
    found = class_issues(np.array([index[label] for label in targets], dtype=np.int64), probas)
    best = np.argmax(found.probabilities, axis=1)
    return TaskLabelIssues(issue_score=1.0 - found.quality, flagged=found.flagged,
                           suggested=[labels[j] for j in best],
                           suggested_confidence=found.probabilities[np.arange(len(best)), best])
