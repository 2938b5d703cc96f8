"""Uncertainty of a region task type (spans, boxes): the task type's default aggregation of its regions."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies.base import PoolContext, QueryStrategy, StrategyRequirementError


class TaskUncertainty(QueryStrategy):
    """Most uncertain task first, as the project's task type aggregates its regions (for named entities: MNLP,
    the length-normalised least confidence of the best tag path; see ``labelsieve.tasktypes.ner``; for boxes: the sum of
    per-box entropies, see ``labelsieve.tasktypes.boxes``)."""

    task_types = ("ner", "boxes")
    category = "uncertainty"

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.task_uncertainty is None:
            raise StrategyRequirementError("task_uncertainty needs a region task type's per-task uncertainty "
                                           "(ctx.task_uncertainty); this pool has none")
        return np.asarray(ctx.task_uncertainty, dtype=np.float64)
