"""One lock and one single-label confident-learning call for every cleanlab user in the process.

cleanlab's filters pass per-call arrays through module globals (``cleanlab.filter`` even with ``n_jobs=1``), so
two threads' calls must not interleave, whichever module makes them: the single-label scorecard
(:mod:`labelsieve.quality.issues`), the task types' region issues (multi-label, token, box) and the box finder
all take :data:`CLEANLAB_LOCK`. ``n_jobs=1`` everywhere: cleanlab's default forks a ``multiprocessing.Pool``, and
forking this multi-threaded process (the service's worker threads, Ray's and torch's threads) can leave a child
holding a copied lock forever (a scorecard hung a CI run that way).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np
from cleanlab.count import estimate_joint
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

CLEANLAB_LOCK = threading.Lock()


@dataclass(frozen=True)
class ClassIssues:
    """cleanlab's answer for single-label targets on out-of-fold class probabilities."""

    probabilities: np.ndarray  # (n, n_classes), clipped and renormalised rows
    quality: np.ndarray  # self-confidence per item (low = likely wrong)
    flagged: np.ndarray  # find_label_issues(prune_by_noise_rate) per item
    joint: np.ndarray  # estimate_joint: the estimated joint of given and true labels


def class_issues(given: np.ndarray, probas: np.ndarray) -> ClassIssues:
    """Confident learning (``prune_by_noise_rate``) on class indices ``given`` and out-of-fold ``probas``; the rows
    are clipped at 1e-12 and renormalised, as cleanlab needs rows that sum to 1."""
    pred = np.clip(np.asarray(probas, dtype=np.float64), 1e-12, None)
    pred = pred / pred.sum(axis=1, keepdims=True)
    labels = np.asarray(given, dtype=np.int64)
    quality = np.asarray(get_label_quality_scores(labels, pred, method="self_confidence"), dtype=np.float64)
    with CLEANLAB_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the flags stay valid
        flagged = np.asarray(find_label_issues(labels, pred, filter_by="prune_by_noise_rate", n_jobs=1), dtype=bool)
        joint = np.asarray(estimate_joint(labels, pred), dtype=np.float64)
    return ClassIssues(probabilities=pred, quality=quality, flagged=flagged, joint=joint)
