"""Label-issue candidates: cleanlab on out-of-fold probabilities.

``cleanlab.filter.find_label_issues`` (confident learning, ``prune_by_noise_rate``) decides which annotations
are likely wrong; ``cleanlab.rank.get_label_quality_scores`` (self-confidence) ranks them. The issue score is
``1 - label quality`` (higher = more likely wrong) and the suggested label is the out-of-fold argmax.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

# find_label_issues passes its per-class arrays through module globals of cleanlab.filter even with n_jobs=1:
# two projects' quality passes in one process must not interleave there
_CLEANLAB = threading.Lock()


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
    with _CLEANLAB, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the flags stay valid
        # n_jobs=1: cleanlab's default forks a multiprocessing.Pool, and forking this multi-threaded process (the
        # service's worker threads, Ray's and torch's threads) can leave a child holding a copied lock forever: a
        # scorecard hung a CI run that way. Per-class pruning of a labelled set is milliseconds in one process.
        flagged = find_label_issues(labels, pred, filter_by="prune_by_noise_rate", n_jobs=1)
    best = np.argmax(pred, axis=1)
    return LabelIssues(
        issue_score=1.0 - np.asarray(quality, dtype=np.float64),
        flagged=np.asarray(flagged, dtype=bool),
        suggested=[classes[j] for j in best],
        suggested_confidence=pred[np.arange(len(best)), best],
    )
