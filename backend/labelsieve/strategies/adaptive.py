"""A strategy that adapts: a cold-start method while the model is weak, uncertainty as it improves.

The signal is the project's own prequential accuracy (``PoolContext.prequential_accuracy``): the best share of 30
consecutive labels that the serving model had predicted right before an annotator gave them. It comes from the
stored annotations, so the strategy keeps no state between rounds (the service may rebuild it at any time, a
restart included, and the choice is the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelsieve.strategies._chunks import fill, normalise, subset_context
from labelsieve.strategies.base import PoolContext, QueryStrategy
from labelsieve.strategies.wrappers import common_task_types, inner


def cold_share(accuracy: float | None, switch_accuracy: float, has_model: bool, first_share: float = 0.5) -> float:
    """Share of the batch the cold-start strategy picks: all of it without a model, ``first_share`` while a model
    has no prequential score yet, none once the prequential accuracy reaches ``switch_accuracy``, linear between."""
    if not has_model:
        return 1.0
    if accuracy is None:
        return float(first_share)
    return float(np.clip(1.0 - accuracy / switch_accuracy, 0.0, 1.0))


class Adaptive(QueryStrategy):
    """Cold start, then uncertainty, weighted by the project's prequential accuracy.

    Each batch is split: ``round(share * n)`` items come from ``cold`` (a label-free cold-start strategy, default
    ``typiclust``) and the rest from ``warm`` (default ``margin``) on the pool left. ``share`` is 1 before any
    model, ``first_share`` while the model has no prequential score yet (no evidence either way), then
    ``clip(1 - a / switch_accuracy, 0, 1)`` where ``a`` is the prequential accuracy (the best share of 30
    consecutive labels the models predicted right before they were given). ``score`` mixes the members'
    rank-normalised scores with the same weights. Cost: the two members'.
    """

    category = "hybrid"
    batch_aware = True
    needs_model = False

    def __init__(self, cold: str = "typiclust", warm: str = "margin", switch_accuracy: float = 0.6,
                 first_share: float = 0.5, cold_params: dict[str, Any] | None = None,
                 warm_params: dict[str, Any] | None = None) -> None:
        self.cold = cold
        self.warm = warm
        self.switch_accuracy = switch_accuracy
        self.first_share = first_share
        self.cold_params = cold_params
        self.warm_params = warm_params

    def check(self) -> None:
        if not 0.0 < float(self.switch_accuracy) <= 1.0:
            raise ValueError(f"switch_accuracy must be in (0, 1], got {self.switch_accuracy}")
        if not 0.0 <= float(self.first_share) <= 1.0:
            raise ValueError(f"first_share must be in [0, 1], got {self.first_share}")
        cold = inner(self.cold, self.cold_params)
        if cold.needs_model:
            raise ValueError(f"cold strategy {self.cold!r} needs a model; use a cold-start one (typiclust, probcover)")
        cold.check()
        inner(self.warm, self.warm_params).check()

    def members_task_types(self) -> tuple[str, ...]:
        return common_task_types((self.cold, self.cold_params), (self.warm, self.warm_params))

    def share(self, ctx: PoolContext) -> float:
        """The cold-start share of this context's batch (see the class docstring)."""
        return cold_share(ctx.prequential_accuracy, float(self.switch_accuracy), ctx.learner is not None,
                          float(self.first_share))

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.n_pool == 0:
            return np.zeros(0)
        share = self.share(ctx)
        total = np.zeros(ctx.n_pool)
        if share > 0:
            total += share * normalise(inner(self.cold, self.cold_params).score(ctx), "rank")
        if share < 1:
            total += (1.0 - share) * normalise(inner(self.warm, self.warm_params).score(ctx), "rank")
        return total

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        n = min(n, ctx.n_pool)
        n_cold = int(round(self.share(ctx) * n))
        picks = np.zeros(0, dtype=np.int64)
        if n_cold:
            picks = np.asarray(inner(self.cold, self.cold_params).select(ctx, n_cold), dtype=np.int64)
        if n - picks.shape[0] > 0:
            rest = np.setdiff1d(np.arange(ctx.n_pool), picks)
            chosen = inner(self.warm, self.warm_params).select(subset_context(ctx, rest), n - picks.shape[0])
            picks = np.concatenate([picks, rest[np.asarray(chosen, dtype=np.int64)]])
        return fill(picks, self.score(ctx), n, ctx.rng)
