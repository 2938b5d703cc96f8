"""Multi-label query strategies: ``ctx.probas`` columns are independent per-label probabilities.

- :class:`MultiLabelUncertainty`: per-label binary uncertainty aggregated over labels (``mean`` / ``max`` binary
  entropy, or ``min_margin`` to the per-label thresholds), :mod:`labelsieve.tasktypes.multilabel_math`.
- :class:`MaxLossReduction`: MMC (Yang et al. 2009), the expected reduction of the label-set loss: the number of
  labels ``k`` a task most likely has is predicted from its sorted probabilities (a logistic regression fitted on
  the labelled tasks, as in the paper), the predicted set is the top ``k`` labels, and the score is
  ``sum_j (1 - s_j f_j) / 2`` with ``f_j = 2 p_j - 1`` and ``s_j = +1`` for the labels in the set, ``-1`` else.
- :class:`LabelCardinalityInconsistency`: LCI (Li & Guo 2013): how far the number of labels the model predicts
  for a task is from the mean number of labels of the labelled tasks, plus a thousandth of the mean binary entropy
  so that tasks with the same count are ordered by uncertainty rather than at random.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from labelsieve.strategies.base import PoolContext, QueryStrategy, StrategyRequirementError
from labelsieve.tasktypes.multilabel_math import AGGREGATIONS, aggregate, binary_entropy

MULTI_LABEL = ("multi_label",)


def _multi_label(ctx: PoolContext, who: str) -> np.ndarray:
    if ctx.task_type != "multi_label":
        raise StrategyRequirementError(f"{who} scores multi-label projects; this one is {ctx.task_type!r}")
    return np.asarray(ctx.probas, dtype=np.float64)


def _thresholds(ctx: PoolContext, n_labels: int) -> np.ndarray:
    return np.full(n_labels, 0.5) if ctx.thresholds is None else np.asarray(ctx.thresholds, dtype=np.float64)


class MultiLabelUncertainty(QueryStrategy):
    """Per-label binary uncertainty aggregated per task: ``mean`` / ``max`` binary entropy or ``min_margin``."""

    task_types = MULTI_LABEL

    def __init__(self, aggregation: str = "mean") -> None:
        self.aggregation = aggregation

    def check(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.aggregation!r}; choose from {sorted(AGGREGATIONS)}")

    def score(self, ctx: PoolContext) -> np.ndarray:
        self.check()
        probas = _multi_label(ctx, "multilabel_uncertainty")
        return aggregate(probas, self.aggregation, _thresholds(ctx, probas.shape[1]))


class MaxLossReduction(QueryStrategy):
    """MMC: expected reduction of the label-set loss with a predicted label count (Yang et al. 2009)."""

    task_types = MULTI_LABEL

    def __init__(self) -> None:
        pass

    def _counts(self, ctx: PoolContext, probas: np.ndarray) -> np.ndarray:
        """How many labels each pool task most likely has: fitted on the labelled tasks' sorted probabilities."""
        threshold_counts = (probas >= _thresholds(ctx, probas.shape[1])).sum(axis=1)
        targets = ctx.labeled_targets
        if targets is None or len(ctx.labeled) == 0 or ctx.learner is None:
            return np.maximum(threshold_counts, 1)
        counts = np.asarray(targets).sum(axis=1)
        if np.unique(counts).shape[0] < 2:
            return np.full(probas.shape[0], int(counts[0]) if len(counts) else 1)
        labeled = -np.sort(-np.asarray(ctx.learner.predict_proba(ctx.labeled), dtype=np.float64), axis=1)
        model = LogisticRegression(max_iter=1000).fit(labeled, counts)
        return np.asarray(model.predict(-np.sort(-probas, axis=1)), dtype=np.int64)

    def score(self, ctx: PoolContext) -> np.ndarray:
        probas = _multi_label(ctx, "mmc")
        if probas.shape[0] == 0:
            return np.zeros(0)
        counts = np.clip(self._counts(ctx, probas), 0, probas.shape[1])
        order = np.argsort(-probas, axis=1, kind="stable")
        signs = -np.ones_like(probas)
        rows = np.arange(probas.shape[0])
        for rank in range(probas.shape[1]):
            take = counts > rank
            signs[rows[take], order[take, rank]] = 1.0
        f = 2.0 * probas - 1.0
        return ((1.0 - signs * f) / 2.0).sum(axis=1)


class LabelCardinalityInconsistency(QueryStrategy):
    """LCI: distance of the predicted label count from the labelled tasks' mean count (Li & Guo 2013)."""

    task_types = MULTI_LABEL

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        probas = _multi_label(ctx, "lci")
        if probas.shape[0] == 0:
            return np.zeros(0)
        predicted = (probas >= _thresholds(ctx, probas.shape[1])).sum(axis=1)
        targets = ctx.labeled_targets
        mean = float(np.asarray(targets).sum(axis=1).mean()) if targets is not None and len(targets) else 1.0
        return np.abs(predicted - mean) + 1e-3 * binary_entropy(probas).mean(axis=1)
