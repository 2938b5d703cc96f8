"""Entity-level exact-match precision, recall and F1 (seqeval's definition, default mode)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from seqeval.metrics import classification_report, f1_score, precision_score, recall_score


@dataclass(frozen=True)
class EntityScores:
    precision: float
    recall: float
    f1: float
    per_type: dict[str, dict[str, float]]  # type -> precision, recall, f1, support


def entity_scores(y_true: Sequence[list[str]], y_pred: Sequence[list[str]]) -> EntityScores:
    """Micro-averaged entity P/R/F1: an entity counts only when its type and both boundaries match."""
    true, pred = [list(t) for t in y_true], [list(p) for p in y_pred]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns when a set has no entity; the zero stays right
        report = classification_report(true, pred, output_dict=True, zero_division=0)
        scores = EntityScores(
            precision=float(precision_score(true, pred, zero_division=0)),
            recall=float(recall_score(true, pred, zero_division=0)),
            f1=float(f1_score(true, pred, zero_division=0)),
            per_type={
                label: {key.replace("f1-score", "f1"): float(value) for key, value in row.items()}
                for label, row in report.items()
                if not label.endswith(" avg")
            },
        )
    return scores
