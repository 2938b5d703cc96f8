"""Uncertainty as the project's task type aggregates its regions: any task type, built-in or a plugin's."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy, StrategyRequirementError


class TaskUncertainty(QueryStrategy):
    """Most uncertain task first, as the project's task type aggregates its regions with its default aggregation
    (named entities: MNLP, the length-normalised least confidence of the best tag path, ``labelsieve.tasktypes.ner``;
    single-label: least confidence; boxes: the sum of per-box entropies, ``labelsieve.tasktypes.boxes``). The host
    computes ``ctx.task_uncertainty`` for every task type, so this serves every type, a third party's included: a
    plugin task type gets uncertainty sampling by implementing
    ``TaskType.task_uncertainty``."""

    task_types = (ANY_TASK_TYPE,)
    category = "uncertainty"

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.task_uncertainty is None:
            raise StrategyRequirementError("task_uncertainty needs a region task type's per-task uncertainty "
                                           "(ctx.task_uncertainty); this pool has none")
        return np.asarray(ctx.task_uncertainty, dtype=np.float64)
