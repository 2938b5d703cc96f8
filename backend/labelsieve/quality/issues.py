"""Label-issue candidates: cleanlab on out-of-fold probabilities.

``cleanlab.filter.find_label_issues`` (confident learning, ``prune_by_noise_rate``) decides which annotations
are likely wrong; ``cleanlab.rank.get_label_quality_scores`` (self-confidence) ranks them. The issue score is
``1 - label quality`` (higher = more likely wrong) and the suggested label is the out-of-fold argmax.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores


@dataclass
class LabelIssues:
    issue_score: np.ndarray  # 1 - cleanlab label quality, per item
    flagged: np.ndarray  # bool: cleanlab's find_label_issues
    suggested: list[str]  # out-of-fold argmax class
    suggested_confidence: np.ndarray  # out-of-fold probability of the suggested class


def find_issues(y: list[str], proba: np.ndarray, classes: list[str]) -> LabelIssues:
    index = {c: j for j, c in enumerate(classes)}
    labels = np.array([index[c] for c in y], dtype=np.int64)
    # cleanlab needs rows that sum to 1 and every class present among the labels (true here by construction)
    pred = np.clip(proba, 1e-12, None)
    pred = pred / pred.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(labels, pred, method="self_confidence")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the flags stay valid
        flagged = find_label_issues(labels, pred, filter_by="prune_by_noise_rate")
    best = np.argmax(pred, axis=1)
    return LabelIssues(
        issue_score=1.0 - np.asarray(quality, dtype=np.float64),
        flagged=np.asarray(flagged, dtype=bool),
        suggested=[classes[j] for j in best],
        suggested_confidence=pred[np.arange(len(best)), best],
    )
