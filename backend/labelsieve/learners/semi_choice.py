"""``semi_supervised="auto"``: pick the semi-supervised method by cross-validation on the labelled set.

Which method helps depends on the data: label spreading over a kNN graph gained 4-5 points of area under the
learning curve on digits and lost up to 0.7 on breast_cancer; self-training gained on the tabular sets and lost
on digits (benchmarks/learner_recipes.py). So each candidate (no pseudo-labels, ``"self_training"``,
``"label_spreading"``) is run as it would be deployed — pseudo-labels from the labelled training fold plus the
pool, then the linear head — and scored on the held-out fold of the labelled set; the best mean accuracy wins,
ties go to the simpler candidate (none before self-training before label spreading).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.model_selection import KFold

from labelsieve.learners.linear import LinearHead
from labelsieve.learners.pool_features import SEMI_SUPERVISED, pseudo_labels

#: candidates in order of preference on ties
CANDIDATES: tuple[str | None, ...] = (None, *SEMI_SUPERVISED)


def fit_head(features: np.ndarray, y_index: np.ndarray, pool: np.ndarray, n_classes: int, *, method: str | None,
             weights: np.ndarray | None, threshold: float, n_neighbors: int, C: float, class_weight: str | None,
             max_iter: int, random_state: int) -> tuple[LinearHead, int]:
    """The linear head on the labelled rows plus ``method``'s confident pseudo-labels of ``pool``, and their count."""
    n_pseudo = 0
    if method and len(pool):
        chosen, pseudo = pseudo_labels(features, y_index, pool, method=method, threshold=threshold,
                                       n_neighbors=n_neighbors, C=C, max_iter=max_iter, random_state=random_state)
        n_pseudo = len(chosen)
        features = np.vstack([features, pool[chosen]])
        y_index = np.concatenate([y_index, pseudo])
        if weights is not None:
            weights = np.concatenate([weights, np.ones(len(chosen))])
    head = LinearHead.fit(features, y_index, n_classes, C=C, class_weight=class_weight, sample_weight=weights,
                          max_iter=max_iter, random_state=random_state)
    return head, n_pseudo


def choose_method(features: np.ndarray, y_index: np.ndarray,
                  fit: Callable[[np.ndarray, np.ndarray, str | None], LinearHead], *, folds: int,
                  random_state: int) -> tuple[str | None, dict[str, float]]:
    """``(method, mean held-out accuracy per candidate)``; ``fit(features, y_index, method)`` fits one candidate.

    Folds whose training part holds fewer than two classes are skipped; with no usable fold: no pseudo-labels.
    """
    n_splits = int(min(folds, len(y_index)))
    scores: dict[str, list[float]] = {str(method): [] for method in CANDIDATES}
    if n_splits >= 2:
        for train, test in KFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(features):
            if len(set(y_index[train].tolist())) < 2:
                continue
            for method in CANDIDATES:
                head = fit(features[train], y_index[train], method)
                predicted = np.argmax(head.logits(features[test]), axis=1)
                scores[str(method)].append(float(np.mean(predicted == y_index[test])))
    means = {name: float(np.mean(values)) for name, values in scores.items() if values}
    if not means:
        return None, {}
    best = max(CANDIDATES, key=lambda m: (means[str(m)], -CANDIDATES.index(m)))
    return best, means
