"""Classic uncertainty sampling on the model's class probabilities (Lewis & Gale 1994;
Scheffer et al. 2001; Settles 2009 survey)."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies.base import PoolContext, QueryStrategy


class LeastConfidence(QueryStrategy):
    """Lowest top-class probability first: ``score = 1 - max_c p(c|x)``."""

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        probas = ctx.probas
        if probas.shape[0] == 0:
            return np.zeros(0)
        return 1.0 - probas.max(axis=1)


class Margin(QueryStrategy):
    """Smallest gap between the two most probable classes first: ``score = -(p1 - p2)``."""

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        probas = ctx.probas
        if probas.shape[0] == 0:
            return np.zeros(0)
        if probas.shape[1] < 2:
            return np.zeros(probas.shape[0])
        top2 = np.partition(probas, -2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])


class Entropy(QueryStrategy):
    """Highest predictive entropy first: ``score = -sum_c p log p``."""

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        probas = np.clip(ctx.probas, 1e-12, 1.0)
        if probas.shape[0] == 0:
            return np.zeros(0)
        return -(probas * np.log(probas)).sum(axis=1)
