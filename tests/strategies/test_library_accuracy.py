"""Active learning pays: on digits (64 raw pixels, the vector learner's logistic regression), margin sampling
and cluster-margin reach a higher accuracy than random sampling after 10 rounds of 10 labels, averaged over 3 seeds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import get_registry
from labelsieve.strategies.base import PoolContext


def run(strategy_name: str, seed: int, x: np.ndarray, y: np.ndarray) -> float:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    test, rest = order[:500], order[500:]
    labeled = list(rest[:10])
    strategy = get_registry("strategies").create(strategy_name, {})
    for round_ in range(10):
        names = [str(v) for v in y[labeled]]
        learner = VectorLearner(max_iter=300).fit(list(x[labeled]), names)
        pool = np.setdiff1d(rest, labeled)
        ctx = PoolContext(pool=list(x[pool]), learner=learner, rng=np.random.default_rng(seed * 100 + round_),
                          classes=tuple(learner.classes_))
        labeled += [int(pool[i]) for i in strategy.select(ctx, 10)]
    learner = VectorLearner(max_iter=300).fit(list(x[labeled]), [str(v) for v in y[labeled]])
    return float(np.mean(np.array(learner.predict(list(x[test]))) == y[test].astype(str)))


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return data.data.astype(np.float32), data.target


@pytest.mark.parametrize("name", ["margin", "cluster_margin"])
def test_uncertainty_beats_random_on_digits(digits, name: str) -> None:
    x, y = digits
    active = np.mean([run(name, seed, x, y) for seed in range(3)])
    random = np.mean([run("random", seed, x, y) for seed in range(3)])
    assert active > random + 0.01, (active, random)  # measured: margin .919, cluster_margin .931, random .889
    assert random > 0.6  # both learn: far above the 10% of chance
