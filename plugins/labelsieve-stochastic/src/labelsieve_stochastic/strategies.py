"""Stochastic batch acquisition (Kirsch, Farquhar, Atighehchian, Jesson, Branchaud-Charron and Gal,
"Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning", TMLR 2023).

Instead of labelling the top ``n`` items of a score (which fills a batch with near-duplicates),
sample ``n`` items *without replacement* with probability growing with the score:

- ``power``:    ``p_i ∝ s_i ** beta``          (scores must be non-negative; see below)
- ``softmax``:  ``p_i ∝ exp(beta * s_i)``
- ``softrank``: ``p_i ∝ rank_i ** -beta``      (rank 1 = highest score; only the order matters)

Sampling without replacement uses the Gumbel-top-k trick: add independent Gumbel(0, 1) noise to
the log-weights ``log p_i`` and take the ``n`` largest. ``beta = 0`` is uniform random sampling;
``beta -> inf`` (``float("inf")`` is accepted) is plain top-``n`` of the base score.

The score comes from a *base* strategy named in labelsieve's strategy registry (``base="entropy"``,
``"margin"``, ``"bald"``, or any installed plugin), so these wrappers work with every strategy.
Margin-type scores are negative (``-(p1 - p2)``); power acquisition needs ``s >= 0``, so when the
pool's minimum score is negative the scores are shifted by that minimum first (the least useful
item then gets a vanishing probability). Softmax and softrank take any real scores.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, ClassVar

import numpy as np
from scipy.stats import rankdata

from labelsieve.registry import get_registry
from labelsieve.strategies.base import PoolContext, QueryStrategy, top_n

WRAPPER_NAMES = frozenset({"power", "softmax", "softrank"})


class StochasticSampling(QueryStrategy):
    """Base class: sample the batch with log-weights ``log_weights(base scores)`` via Gumbel-top-k."""

    batch_aware: ClassVar[bool] = True
    category: ClassVar[str] = "wrapper"
    name: ClassVar[str] = "stochastic"

    def __init__(self, *, base: str = "entropy", base_params: dict[str, Any] | None = None, beta: float = 1.0) -> None:
        self.base = base
        self.base_params = base_params
        self.beta = beta

    def check(self) -> None:
        """Called at ``/setup``, so a bad project setting is refused there."""
        beta, base = self.beta, self.base
        if isinstance(beta, bool) or not isinstance(beta, int | float) or math.isnan(beta) or beta < 0:
            raise ValueError(f"beta must be a number >= 0 (inf for top-k), got {beta!r}")
        if not isinstance(base, str) or base in WRAPPER_NAMES:
            raise ValueError(f"base must name a non-stochastic strategy, got {base!r}")
        get_registry("strategies").info(base)  # unknown name: UnknownPluginError listing the available ones

    # ------------------------------------------------------------------ scoring
    def base_strategy(self) -> QueryStrategy:
        """The wrapped strategy, resolved by name through labelsieve's registry (built-ins and plugins)."""
        if "_base" not in self.__dict__:
            self.__dict__["_base"] = get_registry("strategies").create(self.base, self.base_params or {})
        return self.__dict__["_base"]

    def score(self, ctx: PoolContext) -> np.ndarray:
        """The base strategy's scores (computed once per context; ``select`` reuses them)."""
        cache: weakref.WeakKeyDictionary[PoolContext, np.ndarray]
        cache = self.__dict__.setdefault("_scores", weakref.WeakKeyDictionary())
        if ctx not in cache:
            cache[ctx] = np.asarray(self.base_strategy().score(ctx), dtype=np.float64)
        return cache[ctx]

    def log_weights(self, scores: np.ndarray) -> np.ndarray:
        """``log p_i`` up to a constant, for a finite ``beta``."""
        raise NotImplementedError

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """The first-draw probabilities ``p_i`` (for inspection and tests)."""
        logits = self.log_weights(np.asarray(scores, dtype=np.float64))
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()

    # ------------------------------------------------------------------ selection
    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        scores = self.score(ctx)
        if math.isinf(self.beta):
            return top_n(scores, n, ctx.rng)
        keys = self.log_weights(scores) + ctx.rng.gumbel(size=scores.shape[0])
        n = min(int(n), scores.shape[0])
        head = np.argpartition(-keys, n - 1)[:n]
        return head[np.argsort(-keys[head], kind="stable")].astype(np.int64)


class PowerSampling(StochasticSampling):
    """Stochastic batch: sample without replacement with ``p ∝ score ** beta`` (Kirsch et al. 2023)."""

    name = "power"

    def log_weights(self, scores: np.ndarray) -> np.ndarray:
        if scores.size and scores.min() < 0:
            scores = scores - scores.min()  # margin-type scores: shift so all are >= 0
        tiny = np.finfo(np.float64).tiny  # zero scores: vanishing (not impossible) probability
        return self.beta * np.log(np.maximum(scores, tiny))


class SoftmaxSampling(StochasticSampling):
    """Stochastic batch: sample without replacement with ``p ∝ exp(beta * score)`` (Kirsch et al. 2023)."""

    name = "softmax"

    def log_weights(self, scores: np.ndarray) -> np.ndarray:
        return self.beta * scores


class SoftrankSampling(StochasticSampling):
    """Stochastic batch: sample without replacement with ``p ∝ rank ** -beta`` (Kirsch et al. 2023)."""

    name = "softrank"

    def log_weights(self, scores: np.ndarray) -> np.ndarray:
        ranks = rankdata(-scores, method="average")  # 1 = highest score; ties share their mean rank
        return -self.beta * np.log(ranks)
