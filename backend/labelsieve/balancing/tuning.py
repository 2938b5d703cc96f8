"""``logit_adjusted_cv``: the logit-adjustment τ chosen on the labelled set, never on test labels.

Rule: split the *real* labelled rows into ``k = min(cv_folds, n_min)`` stratified folds (``n_min`` = the rarest
class's count; synthetic rows join every training fold and are never held out), fit the learner with the
logit-adjusted loss at ``tau0`` on each training fold, and keep the out-of-fold log-probabilities. A model trained
with τ0 and shifted post hoc by ``-δ log π`` behaves like one trained with ``τ0 + δ`` (Menon et al. 2021, §4), so
every δ on :data:`DELTAS` is scored on the same out-of-fold predictions by the **balanced log-loss** (mean over
classes of the class's mean ``-log p(y|x)``; its minimiser is the posterior under a uniform class prior, which is
what balanced accuracy needs). The final model is trained with ``τ = clip(τ0 + δ*, 0, 10)``. Cost: ``k`` extra
fits per retrain. Fewer than 2 real rows in some class: no split is possible, τ0 is kept (and said so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from labelsieve.registry import get_registry

DELTAS = tuple(np.round(np.arange(-1.0, 2.01, 0.25), 2).tolist())


def balanced_log_loss(log_proba: np.ndarray, y: np.ndarray) -> float:
    """Mean over the classes present in ``y`` of the mean negative log-probability of that class's rows."""
    per_row = -log_proba[np.arange(len(y)), y]
    return float(np.mean([per_row[y == c].mean() for c in np.unique(y)]))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def choose_tau(
    X: Sequence[Any], y: Sequence[str], *, synthetic_mask: np.ndarray, sample_weight: np.ndarray | None,
    learner_name: str, learner_params: dict[str, Any], tau0: float, folds: int, rng: np.random.Generator,
) -> tuple[float, dict[str, Any]]:
    """(τ for the final fit, what was measured); see the module docstring."""
    labels = np.asarray(y)
    real = np.flatnonzero(~synthetic_mask)
    counts = Counter(labels[real].tolist())
    k = min(folds, min(counts.values()))
    if k < 2 or len(counts) < 2:
        return tau0, {"tau": tau0, "skipped": f"the rarest class has {min(counts.values())} real row(s): no split"}
    classes = sorted(counts)
    index = {c: i for i, c in enumerate(classes)}
    target = np.array([index[c] for c in labels])
    synthetic = np.flatnonzero(synthetic_mask)
    oof = np.zeros((len(labels), len(classes)))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=int(rng.integers(0, 2**31 - 1)))
    registry = get_registry("learners")
    params = {**learner_params, "loss": "logit_adjusted", "loss_tau": tau0}
    for train_part, held_part in splitter.split(real, labels[real]):
        train = np.concatenate([real[train_part], synthetic])
        held = real[held_part]
        learner = registry.create(learner_name, params)
        learner.fit(_take(X, train), labels[train].tolist(),
                    sample_weight=None if sample_weight is None else sample_weight[train])
        proba = learner.predict_proba(_take(X, held))
        columns = [index[c] for c in learner.classes_]
        oof[np.ix_(held, columns)] = np.log(np.clip(proba, 1e-12, None))
    prior = np.array([counts[c] for c in classes], dtype=np.float64)
    log_prior = np.log(prior / prior.sum())
    losses = {d: balanced_log_loss(_log_softmax(oof[real] - d * log_prior), target[real]) for d in DELTAS}
    best = min(losses, key=lambda d: (losses[d], abs(d)))
    tau = float(np.clip(tau0 + best, 0.0, 10.0))
    return tau, {"tau": tau, "folds": k, "balanced_log_loss": {str(d): round(v, 4) for d, v in losses.items()}}


def _take(X: Any, rows: np.ndarray) -> Any:
    return X[rows] if isinstance(X, np.ndarray) else [X[int(i)] for i in rows]
