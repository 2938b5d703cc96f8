"""check_strategy over every registered strategy (plugins included), and check_strategy itself."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.registry import get_registry
from labelsieve.strategies.base import PoolContext, QueryStrategy
from labelsieve.testing import check_strategy, check_task_types, vector_context

NAMES = get_registry("strategies").names()
MINE = {"bald", "qbc", "kmeans", "cluster_margin", "density_weighted", "typiclust", "influence", "scorecard",
        "prefilter_diversify", "class_balanced", "subsample"}


def test_every_builtin_is_registered() -> None:
    assert MINE <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_registered_strategy_conforms(name: str) -> None:
    cls = get_registry("strategies").load(name)
    check_task_types(cls)  # once per task type it declares, on that type's context
    assert cls.category in {"uncertainty", "diversity", "hybrid", "cold-start", "value", "baseline", "wrapper"}


class WrongLength(QueryStrategy):
    """Returns one score too few."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def score(self, ctx: PoolContext) -> np.ndarray:
        return np.ones(max(ctx.n_pool - 1, 0)) * self.scale


class Unseeded(QueryStrategy):
    """Uses global randomness instead of ctx.rng."""

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        return np.random.default_rng().random(ctx.n_pool)


class Forgetful(QueryStrategy):
    """Does not store its parameter."""

    def __init__(self, depth: int = 3) -> None:
        self.depth = 5

    def score(self, ctx: PoolContext) -> np.ndarray:
        return np.zeros(ctx.n_pool)


@pytest.mark.parametrize(("cls", "message"), [
    (WrongLength, "returned shape (39,), expected (40,)"),
    (Unseeded, "differs between two runs with the same seed"),
    (Forgetful, "params do not round-trip"),
])
def test_check_strategy_reports_broken_plugins(cls: type[QueryStrategy], message: str) -> None:
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_strategy(cls, ctx_factory=vector_context)
