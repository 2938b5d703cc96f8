"""labelsieve-stochastic: batches are drawn as Kirsch et al. (2023) specify, reproducibly, through the registry."""

from __future__ import annotations

import numpy as np
import pytest
from labelsieve_stochastic import PowerSampling, SoftmaxSampling, SoftrankSampling
from scipy.stats import chisquare

from labelsieve.registry import UnknownPluginError, get_registry
from labelsieve.strategies.base import PoolContext, full_ranking


def make_ctx(probas: np.ndarray, seed: int = 0) -> PoolContext:
    n_classes = probas.shape[1]
    return PoolContext(pool=list(range(probas.shape[0])), learner=None, rng=np.random.default_rng(seed),
                       classes=tuple(str(c) for c in range(n_classes)), pool_probas=probas)


def random_probas(n: int, n_classes: int = 4, seed: int = 1) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(scale=2.0, size=(n, n_classes))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(p)).sum(axis=1)


def test_registry_finds_the_three_strategies_of_this_distribution() -> None:
    registry = get_registry("strategies")
    for name, cls in (("power", PowerSampling), ("softmax", SoftmaxSampling), ("softrank", SoftrankSampling)):
        info = registry.info(name)
        assert (info.package, info.version) == ("labelsieve-stochastic", "0.1.0")
        strategy = registry.create(name, {"base": "margin", "beta": 2.0})
        assert type(strategy) is cls and strategy.get_params()["beta"] == 2.0


@pytest.mark.parametrize("cls", [PowerSampling, SoftmaxSampling, SoftrankSampling])
def test_first_pick_follows_the_specified_distribution(cls) -> None:
    """Gumbel-top-k's first pick is an exact draw from p; check it against p computed here, by formula."""
    probas = random_probas(6)
    s = entropy(probas)
    beta = 2.0
    if cls is PowerSampling:
        expected = s**beta
    elif cls is SoftmaxSampling:
        expected = np.exp(beta * s)
    else:
        rank = np.empty(6)
        rank[np.argsort(-s)] = np.arange(1, 7)
        expected = rank**-beta
    expected = expected / expected.sum()
    strategy = cls(base="entropy", beta=beta)
    np.testing.assert_allclose(strategy.probabilities(s), expected, rtol=1e-9)

    draws = 3000
    rng = np.random.default_rng(123)
    firsts = [int(strategy.select(make_ctx(probas, seed=int(rng.integers(2**31))), 1)[0]) for _ in range(draws)]
    counts = np.bincount(firsts, minlength=6)
    assert chisquare(counts, expected * draws).pvalue > 1e-3, (counts, expected * draws)


def test_high_score_items_are_picked_far_more_often_but_not_only_them() -> None:
    probas = random_probas(100, seed=3)
    s = -np.abs(np.sort(probas, axis=1)[:, -1] - np.sort(probas, axis=1)[:, -2])  # margin score (negative)
    top10 = set(np.argsort(-s)[:10].tolist())
    bottom50 = set(np.argsort(-s)[50:].tolist())
    picked = np.zeros(100)
    strategy = PowerSampling(base="margin", beta=4.0)
    for seed in range(300):
        batch = strategy.select(make_ctx(probas, seed), 10)
        assert len(set(batch.tolist())) == 10  # without replacement
        picked[batch] += 1
    top_rate = picked[list(top10)].mean() / 300
    bottom_rate = picked[list(bottom50)].mean() / 300
    assert top_rate > 5 * bottom_rate, (top_rate, bottom_rate)
    assert top_rate < 0.99, "a stochastic batch must not always be the top-k"


def test_power_shifts_negative_margin_scores_and_keeps_their_order() -> None:
    s = np.array([-0.9, -0.5, -0.1, -0.3])
    p = PowerSampling(base="margin", beta=1.0).probabilities(s)
    assert np.all(np.isfinite(p)) and np.argmax(p) == 2
    assert list(np.argsort(-p)[:3]) == [2, 3, 1]


@pytest.mark.parametrize("cls", [PowerSampling, SoftmaxSampling, SoftrankSampling])
def test_infinite_beta_is_top_k_and_large_beta_nearly_so(cls) -> None:
    probas = random_probas(40, seed=5)
    top = set(np.argsort(-entropy(probas))[:8].tolist())
    assert set(cls(base="entropy", beta=float("inf")).select(make_ctx(probas), 8).tolist()) == top
    assert set(cls(base="entropy", beta=1e4).select(make_ctx(probas), 8).tolist()) == top
    uniform = cls(base="entropy", beta=0.0).select(make_ctx(probas), 8)
    assert set(uniform.tolist()) != top  # beta = 0 is plain random sampling


def test_same_seed_same_batch_other_seed_other_batch() -> None:
    probas = random_probas(60, seed=7)
    a = SoftmaxSampling(base="margin", beta=5.0).select(make_ctx(probas, seed=11), 10)
    b = SoftmaxSampling(base="margin", beta=5.0).select(make_ctx(probas, seed=11), 10)
    c = SoftmaxSampling(base="margin", beta=5.0).select(make_ctx(probas, seed=12), 10)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_full_ranking_puts_the_sampled_batch_first_and_ranks_the_rest_by_base_score() -> None:
    probas = random_probas(30, seed=9)
    order, scores = full_ranking(PowerSampling(base="entropy", beta=1.0), make_ctx(probas, seed=4), 5)
    assert sorted(order.tolist()) == list(range(30))
    np.testing.assert_allclose(scores, entropy(probas), rtol=1e-9)
    rest = scores[order[5:]]
    assert np.all(np.diff(rest) <= 0)


def test_bad_parameters_are_refused_with_clear_messages() -> None:
    with pytest.raises(UnknownPluginError, match="unknown strategy 'nope'; available: .*margin"):
        PowerSampling(base="nope").check()
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        SoftmaxSampling(beta=-1.0).check()
    with pytest.raises(ValueError, match="non-stochastic"):
        SoftrankSampling(base="power").check()


@pytest.mark.parametrize("cls", [PowerSampling, SoftmaxSampling, SoftrankSampling])
def test_passes_labelsieves_strategy_contract_check(cls) -> None:
    from labelsieve.testing import check_strategy

    check_strategy(cls)
    check_strategy(cls(base="margin", beta=3.0))
