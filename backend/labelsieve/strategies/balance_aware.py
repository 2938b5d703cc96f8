"""Balance-aware selection: a wrapper that raises the priority of pool items predicted to belong
to classes that are rare among the labels so far (class-balanced active learning in the spirit
of Aggarwal et al. 2020 and Bengar et al. 2022).

``score = (1 - weight) * base_rank + weight * rarity``, where ``base_rank`` is the base
strategy's score turned into a percentile in ``[0, 1]`` (so any base strategy's scale works) and
``rarity = sum_c p(c|x) * r_c`` with ``r_c = (n_min_smoothed / (n_c + smoothing)) ** power`` in
``(0, 1]``: 1 for the rarest labelled class (and for classes with no label yet).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from labelsieve.registry import get_registry
from labelsieve.strategies.base import PoolContext, QueryStrategy


class BalanceAware(QueryStrategy):
    """Base strategy's ranking, tilted toward items predicted to be in under-represented classes."""

    category = "wrapper"

    def __init__(self, *, base: str = "margin", base_params: dict[str, Any] | None = None, weight: float = 0.5,
                 power: float = 1.0, smoothing: float = 1.0) -> None:
        self.base = base
        self.base_params = base_params
        self.weight = weight
        self.power = power
        self.smoothing = smoothing

    def _base(self) -> QueryStrategy:
        if self.base == "balance_aware":
            raise ValueError("balance_aware cannot wrap itself")
        return get_registry("strategies").create(self.base, self.base_params or {})

    def class_rarity(self, ctx: PoolContext) -> np.ndarray:
        """``r_c`` per class of ``ctx.classes`` (1 = rarest)."""
        counts = np.bincount(np.asarray(ctx.labeled_y, dtype=np.int64), minlength=ctx.n_classes).astype(float)
        smoothed = counts + self.smoothing
        return (smoothed.min() / smoothed) ** self.power

    def check(self) -> None:
        self._check_weight()
        self._base().check()

    def _check_weight(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {self.weight}")

    def score(self, ctx: PoolContext) -> np.ndarray:
        self._check_weight()
        base_scores = np.asarray(self._base().score(ctx), dtype=np.float64)
        n = base_scores.shape[0]
        if n == 0:
            return np.zeros(0)
        base_rank = (rankdata(base_scores) - 1.0) / max(n - 1, 1)
        if ctx.n_classes == 0:
            return base_rank
        rarity = ctx.probas @ self.class_rarity(ctx)
        return (1.0 - self.weight) * base_rank + self.weight * rarity
