"""Random sampling: the baseline every savings figure is measured against."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy


class RandomSampling(QueryStrategy):
    """Uniformly random order (from ``ctx.rng``); needs no model."""

    task_types = (ANY_TASK_TYPE,)  # reads embeddings (or nothing) only: any task type

    needs_model = False
    category = "baseline"

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        return ctx.rng.random(ctx.n_pool)
