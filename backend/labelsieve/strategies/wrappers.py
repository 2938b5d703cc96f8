"""Composition wrappers: strategies built from other strategies, named through the registry.

Inner strategies are created by entry-point name with a params dict, so any installed plugin
composes as well as the built-ins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelsieve.registry import get_registry
from labelsieve.strategies._chunks import fill, normalise, subset_context
from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy


def inner(name: str, params: dict[str, Any] | None) -> QueryStrategy:
    """The member strategy ``name``, resolved through the process-wide registry (plugins and run-time
    registrations included)."""
    return get_registry("strategies").create(name, dict(params or {}))


def common_task_types(*members: tuple[str, dict[str, Any] | None]) -> tuple[str, ...]:
    """The task types every member (name, params) serves: a wrapper serves what all its members serve."""
    served: set[str] | None = None
    for name, params in members:
        strategy = inner(name, params)
        members_of = getattr(strategy, "members_task_types", None)
        types = set(members_of() if callable(members_of) else getattr(strategy, "task_types", ("single_label",)))
        if ANY_TASK_TYPE in types:
            continue
        served = types if served is None else served & types
    return (ANY_TASK_TYPE,) if served is None else tuple(sorted(served))


class Scorecard(QueryStrategy):
    """Weighted scorecard: ``sum_s w_s * normalise(score_s)`` over named strategies.

    ``weights`` maps strategy names to weights (e.g. ``{"margin": 0.5, "influence": 0.3,
    "kmeans": 0.2}``), ``params`` maps names to their parameter dicts. ``normalise="rank"`` maps
    each score to its rank in [0, 1] (robust to scale), ``"minmax"`` rescales linearly. Cost: the
    sum of the members' ``score`` costs plus ``O(n log n)`` for ranks.
    """

    category = "wrapper"

    def __init__(
        self, weights: dict[str, float] | None = None, params: dict[str, dict[str, Any]] | None = None,
        normalise: str = "rank",
    ) -> None:
        self.weights = weights
        self.params = params
        self.normalise = normalise

    def members(self) -> dict[str, float]:
        weights = dict(self.weights or {"margin": 0.5, "influence": 0.3, "kmeans": 0.2})
        if not weights or any(not np.isfinite(w) or w < 0 for w in weights.values()):
            raise ValueError(f"scorecard weights must be non-negative numbers, got {weights!r}")
        return weights

    def check(self) -> None:
        params = self.params or {}
        for name in self.members():
            inner(name, params.get(name)).check()

    def members_task_types(self) -> tuple[str, ...]:
        params = self.params or {}
        return common_task_types(*((name, params.get(name)) for name in self.members()))

    def score(self, ctx: PoolContext) -> np.ndarray:
        total = np.zeros(ctx.n_pool)
        params = self.params or {}
        for name, weight in self.members().items():
            if weight == 0:
                continue
            total += float(weight) * normalise(inner(name, params.get(name)).score(ctx), self.normalise)
        return total


class PrefilterDiversify(QueryStrategy):
    """Top-k prefilter, then diversify: the ``factor * n`` best items by ``prefilter`` are handed to
    the batch-aware ``diversify`` strategy (``"kmeans"``, ``"coreset"``...), which picks ``n``.

    ``score`` is the prefilter's score. Cost: prefilter score over the pool plus the diversifier on
    ``factor * n`` items only.
    """

    category = "wrapper"
    batch_aware = True

    def __init__(
        self, prefilter: str = "margin", diversify: str = "kmeans", factor: float = 10.0,
        prefilter_params: dict[str, Any] | None = None, diversify_params: dict[str, Any] | None = None,
    ) -> None:
        self.prefilter = prefilter
        self.diversify = diversify
        self.factor = factor
        self.prefilter_params = prefilter_params
        self.diversify_params = diversify_params

    def check(self) -> None:
        self._check_factor()
        inner(self.prefilter, self.prefilter_params).check()
        inner(self.diversify, self.diversify_params).check()

    def members_task_types(self) -> tuple[str, ...]:
        return common_task_types((self.prefilter, self.prefilter_params), (self.diversify, self.diversify_params))

    def _check_factor(self) -> None:
        if not self.factor >= 1:
            raise ValueError(f"factor must be at least 1, got {self.factor}")

    def score(self, ctx: PoolContext) -> np.ndarray:
        return np.asarray(inner(self.prefilter, self.prefilter_params).score(ctx), dtype=np.float64)

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        self._check_factor()
        scores = self.score(ctx)
        tiebreak = ctx.rng.random(ctx.n_pool)
        size = min(ctx.n_pool, int(np.ceil(self.factor * n)))
        candidates = np.lexsort((-tiebreak, -scores))[:size]
        picked = inner(self.diversify, self.diversify_params).select(subset_context(ctx, candidates), n)
        return fill(candidates[np.asarray(picked, dtype=np.int64)], scores, n, ctx.rng)


class ClassBalanced(QueryStrategy):
    """Class-balanced selection: round-robin over the model's predicted classes, each class's items
    taken in the order of the ``base`` strategy's score, so every predicted class gets its share.

    Cost: the base score plus ``O(n log n)``.
    """

    category = "wrapper"
    batch_aware = True

    def __init__(self, base: str = "margin", base_params: dict[str, Any] | None = None) -> None:
        self.base = base
        self.base_params = base_params

    def check(self) -> None:
        inner(self.base, self.base_params).check()

    def score(self, ctx: PoolContext) -> np.ndarray:
        return np.asarray(inner(self.base, self.base_params).score(ctx), dtype=np.float64)

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        scores = self.score(ctx)
        predicted = ctx.probas.argmax(axis=1)
        tiebreak = ctx.rng.random(ctx.n_pool)
        order = np.lexsort((-tiebreak, -scores))
        queues = [order[predicted[order] == c] for c in np.unique(predicted)]
        picks: list[int] = []
        depth = 0
        while len(picks) < n and any(depth < len(q) for q in queues):
            picks.extend(int(q[depth]) for q in queues if depth < len(q))
            depth += 1
        return fill(picks[:n], scores, n, ctx.rng)


class Subsample(QueryStrategy):
    """Pool subsampling: run ``base`` on a seeded random subsample of ``size`` items (drawn from
    ``ctx.rng`` once per context, so ``score`` and ``select`` agree); the rest of the pool gets the
    subsample's minimum score minus one and is selected only when ``n`` exceeds the subsample.
    Cost: the base strategy's cost at ``size`` items.
    """

    category = "wrapper"
    batch_aware = True
    needs_model = False

    def __init__(self, base: str = "margin", size: int = 100_000, base_params: dict[str, Any] | None = None) -> None:
        self.base = base
        self.size = size
        self.base_params = base_params

    def check(self) -> None:
        self._size()
        inner(self.base, self.base_params).check()

    def members_task_types(self) -> tuple[str, ...]:
        return common_task_types((self.base, self.base_params))

    def _size(self) -> int:
        size = int(self.size)
        if size <= 0:
            raise ValueError(f"size must be a positive item count, got {self.size}")
        return size

    def _members(self, ctx: PoolContext) -> np.ndarray:
        """The subsample, drawn from ``ctx.rng`` once per context and size: ``score`` and ``select`` on the
        same context (as in :func:`~labelsieve.strategies.base.full_ranking`) see the same items."""
        size = self._size()
        if ctx.n_pool <= size:
            return np.arange(ctx.n_pool)
        return ctx.drawn_once(("subsample", size),
                              lambda rng: np.sort(rng.choice(ctx.n_pool, size=size, replace=False)))

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.n_pool == 0:
            return np.zeros(0)
        members = self._members(ctx)
        sub = np.asarray(inner(self.base, self.base_params).score(subset_context(ctx, members)), dtype=np.float64)
        out = np.full(ctx.n_pool, sub.min() - 1.0)
        out[members] = sub
        return out

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        members = self._members(ctx)
        picked = inner(self.base, self.base_params).select(subset_context(ctx, members), n)
        in_sample = np.zeros(ctx.n_pool)
        in_sample[members] = 1.0
        return fill(members[np.asarray(picked, dtype=np.int64)], in_sample, n, ctx.rng)
