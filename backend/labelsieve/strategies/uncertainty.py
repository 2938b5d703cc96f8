"""Classic uncertainty sampling on the model's class probabilities (Lewis & Gale 1994;
Scheffer et al. 2001; Settles 2009 survey)."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies.base import PoolContext, QueryStrategy, StrategyRequirementError


class ProbabilityScore(QueryStrategy):
    """A score read from the pool's class probabilities alone (no parameters); an empty pool scores nothing."""

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        probas = ctx.probas
        if probas.shape[0] == 0:
            return np.zeros(0)
        return self.from_probas(probas)

    def from_probas(self, probas: np.ndarray) -> np.ndarray:
        """One score per row of ``probas`` (at least one row)."""
        raise NotImplementedError


class LeastConfidence(ProbabilityScore):
    """Lowest top-class probability first: ``score = 1 - max_c p(c|x)``."""

    def from_probas(self, probas: np.ndarray) -> np.ndarray:
        return 1.0 - probas.max(axis=1)


class Margin(ProbabilityScore):
    """Smallest gap between the two most probable classes first: ``score = -(p1 - p2)``."""

    def from_probas(self, probas: np.ndarray) -> np.ndarray:
        if probas.shape[1] < 2:
            return np.zeros(probas.shape[0])
        top2 = np.partition(probas, -2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])


class Entropy(ProbabilityScore):
    """Highest predictive entropy first: ``score = -sum_c p log p``."""

    def from_probas(self, probas: np.ndarray) -> np.ndarray:
        clipped = np.clip(probas, 1e-12, 1.0)
        return -(clipped * np.log(clipped)).sum(axis=1)


class Bald(QueryStrategy):
    """BALD with MC dropout (Gal et al. 2017): mutual information between label and weights.

    ``score = H[mean_t p_t] - mean_t H[p_t]`` over ``n_samples`` stochastic forward passes (the
    context's ``mc_samples`` when ``None``). Needs a learner with ``supports_mc_dropout`` (the torch
    image learner); others raise :class:`StrategyRequirementError`. Cost: ``n_samples`` forward
    passes over the pool, ``O(T n C)`` memory for the samples.
    """

    def __init__(self, n_samples: int | None = None) -> None:
        self.n_samples = n_samples

    def score(self, ctx: PoolContext) -> np.ndarray:
        learner = ctx.require_learner("bald")
        if not getattr(learner, "supports_mc_dropout", False):
            raise StrategyRequirementError(
                f"bald needs MC-dropout passes; {type(learner).__name__} has none "
                "(use a torch learner such as the image learner, or qbc / entropy instead)"
            )
        if ctx.n_pool == 0:
            return np.zeros(0)
        samples = np.clip(ctx.mc_probas(self.n_samples), 1e-12, 1.0)
        mean = samples.mean(axis=0)
        predictive = -(mean * np.log(mean)).sum(axis=1)
        expected = -(samples * np.log(samples)).sum(axis=2).mean(axis=0)
        return np.maximum(predictive - expected, 0.0)
