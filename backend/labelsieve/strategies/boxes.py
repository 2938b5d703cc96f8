"""Query strategies of the ``boxes`` task type that need more than the per-image uncertainty the host computes.

- :class:`RareClassBoxes`: the task type's per-image uncertainty (``ctx.task_uncertainty``, the sum of per-box
  entropies by default) multiplied by ``1 + rarity`` of the image's *predicted* classes, rarity being measured
  against the boxes the serving detector was trained on (``learner.class_counts_``):
  :func:`labelsieve.detection.selection.rare_class_weight`. Images where the detector sees a class that few labelled
  boxes show rise in the batch; the rest keep their uncertainty order.
- :class:`FlipConsistency`: localisation stability, CALD-style: the detector runs again on the horizontally
  mirrored pool and every image scores the largest disagreement between the two passes' boxes
  (:func:`labelsieve.detection.uncertainty.flip_disagreement`). Costs one more detector pass over the pool.
- :class:`McDropoutBoxes`: committee disagreement of ``passes`` MC-dropout runs of the box head's last layer on
  each image's detections and top candidates (:mod:`labelsieve.detection.dropout`, which says why the dropout sits
  there). The service's ranking pass computes the scores when the strategy asks for them (:meth:`McDropoutBoxes.
  dropout_request`, given as ``ctx.pool_dropout``): then the signal costs only ``passes`` runs of the predictor
  (two linear maps) on at most ``detections_per_img + 10`` regions per image. Without them (a wrapper, a context
  built elsewhere) it runs one more ordinary detector pass of its own; the backbone never runs ``passes`` times.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import ImageOps

from labelsieve.arrays import to_pil
from labelsieve.detection.dropout import SEED_BLOCK, dropout_seed, image_disagreement
from labelsieve.detection.flip import flip_disagreement, mirror
from labelsieve.detection.selection import rare_class_weight
from labelsieve.strategies.base import PoolContext, QueryStrategy, StrategyRequirementError

BOXES = ("boxes",)
CHUNK = 64  # images per detector call of the strategies' own passes: memory bounded by it, not by the pool


def _boxes(ctx: PoolContext, who: str) -> Any:
    if ctx.task_type != "boxes":
        raise StrategyRequirementError(f"{who} scores boxes projects; this one is {ctx.task_type!r}")
    learner = ctx.require_learner(who)
    if not callable(getattr(learner, "predict_regions", None)):
        raise StrategyRequirementError(f"{who} needs a detector with predict_regions; {type(learner).__name__} "
                                       "has none")
    return learner


def pool_detections(ctx: PoolContext, learner: Any) -> list[Any]:
    """The pool's detections: the host's ranking pass (``ctx.pool_regions``) when given, else one
    ``predict_regions`` pass cached on the context (``full_ranking`` scores twice). Reading ``pool_regions`` leaves
    the detector's memory of its ranking pass for the stop set, which is then not run through the detector again."""
    if ctx.pool_regions is not None:
        return list(ctx.pool_regions)
    found: list[Any] = ctx.drawn_once("boxes_detections", lambda _rng: learner.predict_regions(list(ctx.pool)))
    return found


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
        found = pool_detections(ctx, learner)
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
        """One detector pass over the mirrored pool, ``CHUNK`` images at a time (no mirrored copy of the whole pool
        is held); cached on the context, as full_ranking scores twice."""
        found = pool_detections(ctx, learner)
        out = np.empty(len(found), dtype=np.float64)
        for start in range(0, len(found), CHUNK):
            images = [to_pil(ctx.pool[i]) for i in range(start, min(start + CHUNK, len(found)))]
            flipped = learner.predict_regions([ImageOps.mirror(image) for image in images])
            out[start:start + len(images)] = [flip_disagreement(a, mirror(b, image.width))
                                              for a, b, image in zip(found[start:start + len(images)], flipped,
                                                                     images, strict=True)]
        return out


class McDropoutBoxes(QueryStrategy):
    """Images whose boxes' class and location disagree most across MC-dropout passes of the box head first."""

    task_types = BOXES
    category = "uncertainty"

    def __init__(self, passes: int = 8, rate: float = 0.2) -> None:
        self.passes = passes
        self.rate = rate

    def check(self) -> None:
        if not 2 <= self.passes <= 64:
            raise ValueError(f"passes must be in [2, 64], got {self.passes}")
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"rate must be in (0, 1), got {self.rate}")

    def dropout_request(self, round_seed: int) -> dict[str, Any]:
        """What the host's ranking pass computes for this strategy (``infer_with_dropout``'s arguments), drawn as
        :meth:`score` would draw it from a context seeded ``round_seed``."""
        self.check()
        return {"passes": self.passes, "rate": self.rate, "seed": dropout_seed(round_seed)}

    def score(self, ctx: PoolContext) -> np.ndarray:
        self.check()
        learner = _boxes(ctx, "mc_dropout_boxes")
        sample = getattr(learner, "dropout_samples", None)
        if not callable(sample):
            raise StrategyRequirementError(f"mc_dropout_boxes needs a detector with dropout_samples (labelsieve's "
                                           f"own detector); {type(learner).__name__} has none")
        if ctx.n_pool == 0:
            return np.zeros(0)
        return np.asarray(ctx.drawn_once(("mc_dropout_boxes", self.passes, self.rate),
                                         lambda rng: self._disagreement(ctx, sample, rng)))

    def _disagreement(self, ctx: PoolContext, sample: Any, rng: np.random.Generator) -> np.ndarray:
        """The ranking pass's scores (``ctx.pool_dropout``) when they were drawn with this strategy's passes, rate
        and seed; else a pass of its own, ``SEED_BLOCK`` images at a time: the same stream, so the same scores. One
        seed drawn from ``ctx.rng`` for the whole pool either way."""
        seed = int(rng.integers(0, 2**31 - 1))
        given = ctx.pool_dropout
        if given is not None and (given.passes, given.rate, given.seed) == (self.passes, self.rate, seed) \
                and len(given.scores) == ctx.n_pool:
            return np.asarray(given.scores, dtype=np.float64)
        out = np.empty(ctx.n_pool, dtype=np.float64)
        for start in range(0, ctx.n_pool, SEED_BLOCK):
            items = [ctx.pool[i] for i in range(start, min(start + SEED_BLOCK, ctx.n_pool))]
            samples = sample(items, passes=self.passes, rate=self.rate, seed=seed + start)
            out[start:start + len(items)] = [image_disagreement(s) for s in samples]
        return out
