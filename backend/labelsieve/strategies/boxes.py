"""Query strategies of the ``boxes`` task type that need more than the per-image uncertainty the host computes.

- :class:`RareClassBoxes`: the task type's per-image uncertainty (``ctx.task_uncertainty``, the sum of per-box
  entropies by default) multiplied by ``1 + rarity`` of the image's *predicted* classes, rarity being measured
  against the boxes the serving detector was trained on (``learner.class_counts_``):
  :func:`labelsieve.detection.selection.rare_class_weight`. Images where the detector sees a class that few labelled
  boxes show rise in the batch; the rest keep their uncertainty order.
- :class:`FlipConsistency`: localisation stability, CALD-style: the detector runs again on the horizontally
  mirrored pool and every image scores the largest disagreement between the two passes' boxes
  (:func:`labelsieve.detection.uncertainty.flip_disagreement`). Costs one more detector pass over the pool.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import ImageOps

from labelsieve.arrays import to_pil
from labelsieve.detection.flip import flip_disagreement, mirror
from labelsieve.detection.selection import rare_class_weight
from labelsieve.strategies.base import PoolContext, QueryStrategy, StrategyRequirementError

BOXES = ("boxes",)


def _boxes(ctx: PoolContext, who: str) -> Any:
    if ctx.task_type != "boxes":
        raise StrategyRequirementError(f"{who} scores boxes projects; this one is {ctx.task_type!r}")
    learner = ctx.require_learner(who)
    if not callable(getattr(learner, "predict_regions", None)):
        raise StrategyRequirementError(f"{who} needs a detector with predict_regions; {type(learner).__name__} "
                                       "has none")
    return learner


class RareClassBoxes(QueryStrategy):
    """Boxes uncertainty weighted up for images whose predicted boxes include classes rare among labelled boxes."""

    task_types = BOXES
    category = "hybrid"

    def __init__(self, cap: float = 4.0) -> None:
        self.cap = cap

    def check(self) -> None:
        if not self.cap > 0:
            raise ValueError(f"cap must be > 0, got {self.cap}")

    def score(self, ctx: PoolContext) -> np.ndarray:
        self.check()
        learner = _boxes(ctx, "rare_class_boxes")
        if ctx.task_uncertainty is None:
            raise StrategyRequirementError("rare_class_boxes needs the boxes task type's per-image uncertainty")
        if ctx.n_pool == 0:
            return np.zeros(0)
        counts = getattr(learner, "class_counts_", None)
        if counts is None:
            raise StrategyRequirementError("rare_class_boxes needs the detector's labelled box counts "
                                           "(class_counts_); retrain the model")
        # cached on the context: full_ranking scores twice, and the learner's memory of the ranking pass is one-shot
        found = ctx.drawn_once("boxes_detections", lambda _rng: learner.predict_regions(list(ctx.pool)))
        weights = rare_class_weight(found, counts, list(learner.classes_), cap=self.cap)
        return np.asarray(ctx.task_uncertainty, dtype=np.float64) * weights


class FlipConsistency(QueryStrategy):
    """Localisation stability: disagreement between the detections of each image and of its mirror image."""

    task_types = BOXES
    category = "uncertainty"

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        learner = _boxes(ctx, "flip_consistency")
        if ctx.n_pool == 0:
            return np.zeros(0)
        return np.asarray(ctx.drawn_once("flip_disagreement", lambda _rng: self._disagreement(ctx, learner)))

    @staticmethod
    def _disagreement(ctx: PoolContext, learner: Any) -> np.ndarray:
        """One detector pass over the mirrored pool; cached on the context, as full_ranking scores twice."""
        images = [to_pil(x) for x in ctx.pool]
        found = ctx.drawn_once("boxes_detections", lambda _rng: learner.predict_regions(list(ctx.pool)))
        flipped = learner.predict_regions([ImageOps.mirror(image) for image in images])
        return np.array([flip_disagreement(a, mirror(b, image.width))
                         for a, b, image in zip(found, flipped, images, strict=True)], dtype=np.float64)
