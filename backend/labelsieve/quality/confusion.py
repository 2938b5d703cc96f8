"""Confusion matrices that stay readable at 20+ classes: row-normalised, sorted, the top confusions listed.

``confusion_summary`` returns plain JSON: ``classes`` (the order of rows and columns: worst recall first, so the
confused classes sit together at the top left), ``counts`` (rows = true class, columns = predicted class),
``normalized`` (each row divided by its count: the diagonal is the class's recall), and ``top_confusions`` (the
largest off-diagonal cells by count, with the share of the true class they take). Counted with scikit-learn's
``confusion_matrix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

TOP_CONFUSIONS = 10


def confusion_summary(truth: Sequence[str], predicted: Sequence[str], *, classes: Sequence[str] | None = None,
                      top: int = TOP_CONFUSIONS) -> dict[str, Any]:
    truth = [str(t) for t in truth]
    predicted = [str(p) for p in predicted]
    labels = sorted(set(classes or []) | set(truth) | set(predicted))
    return from_counts(labels, confusion_matrix(truth, predicted, labels=labels), top=top)


def from_counts(labels: Sequence[str], counts: np.ndarray, *, top: int = TOP_CONFUSIONS) -> dict[str, Any]:
    labels = [str(c) for c in labels]
    counts = np.asarray(counts, dtype=np.int64)
    support = counts.sum(axis=1)
    recall = np.where(support > 0, np.diag(counts) / np.maximum(support, 1), np.nan)
    # worst recall first; classes never seen as truth (no row to judge) last; ties by name
    order = sorted(range(len(labels)), key=lambda k: (bool(np.isnan(recall[k])), float(np.nan_to_num(recall[k])),
                                                      labels[k]))
    counts = counts[np.ix_(order, order)]
    labels = [labels[k] for k in order]
    support = counts.sum(axis=1)
    normalized = counts / np.maximum(support, 1)[:, None]
    off = [(int(counts[i, j]), i, j) for i in range(len(labels)) for j in range(len(labels))
           if i != j and counts[i, j] > 0]
    off.sort(key=lambda cell: (-cell[0], labels[cell[1]], labels[cell[2]]))
    total = int(counts.sum())
    return {
        "classes": labels, "n": total, "counts": counts.tolist(), "normalized": np.round(normalized, 4).tolist(),
        "support": support.tolist(), "accuracy": float(np.trace(counts) / total) if total else None,
        "top_confusions": [{"true": labels[i], "predicted": labels[j], "count": n,
                            "share": round(n / max(1, int(support[i])), 4)} for n, i, j in off[:top]],
    }


def pooled(summaries: Sequence[dict[str, Any]], *, top: int = TOP_CONFUSIONS) -> dict[str, Any] | None:
    """One summary of several (e.g. the seeds of one strategy): their counts added up."""
    if not summaries:
        return None
    labels = sorted({c for s in summaries for c in s["classes"]})
    index = {c: k for k, c in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for s in summaries:
        at = [index[c] for c in s["classes"]]
        counts[np.ix_(at, at)] += np.asarray(s["counts"], dtype=np.int64)
    return from_counts(labels, counts, top=top)
