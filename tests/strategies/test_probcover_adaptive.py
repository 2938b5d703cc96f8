"""ProbCover and the adaptive strategy: the contract, coverage, the purity rule, bounded memory, the switch."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.neighbors import NearestNeighbors

from labelsieve import check_strategy
from labelsieve.service.signals import best_prequential_accuracy
from labelsieve.storage.models import Annotation, Task
from labelsieve.strategies.adaptive import Adaptive, cold_share
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.coldstart import TypiClust
from labelsieve.strategies.probcover import ProbCover, purity_radius
from labelsieve.strategies.uncertainty import Margin
from labelsieve.testing import vector_context


def blobs(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """12 blobs of very different sizes (blob 0 the biggest)."""
    sizes = [120, 80, 50, 40, 30, 25, 15, 12, 10, 8, 6, 4]
    return make_blobs(n_samples=[round(s * n / sum(sizes)) for s in sizes], n_features=5, cluster_std=1.0,
                      center_box=(-30, 30), random_state=3)


def blobs_context(seed: int, n: int = 400, labeled: np.ndarray | None = None) -> PoolContext:
    """A pool of numeric vectors, no model (a cold start)."""
    x, _ = blobs(n)
    given = None if labeled is None else labeled.astype(np.float32)
    return PoolContext(pool=list(x.astype(np.float32)), learner=None, rng=np.random.default_rng(seed),
                       labeled_embeddings_given=given, classes=tuple(f"c{k}" for k in range(12)))


def coverage(x: np.ndarray, picks: np.ndarray, delta: float) -> float:
    dist, _ = NearestNeighbors(n_neighbors=1).fit(x[picks]).kneighbors(x)
    return float((dist[:, 0] <= delta).mean())


def test_probcover_and_adaptive_pass_the_contract() -> None:
    check_strategy(ProbCover)
    check_strategy(Adaptive)
    check_strategy(Adaptive(cold="probcover", warm="entropy", switch_accuracy=0.9))


def test_probcover_covers_more_of_the_pool_than_random_at_the_same_budget() -> None:
    ctx = blobs_context(0)
    x = np.vstack(ctx.pool)
    delta = ProbCover().radius(x, 12, np.random.default_rng(0))
    budget = 12
    picks = ProbCover().select(ctx, budget)
    ours = coverage(x, picks, delta)
    rng = np.random.default_rng(1)
    randoms = [coverage(x, rng.choice(x.shape[0], size=budget, replace=False), delta) for _ in range(20)]
    assert ours > max(randoms), (ours, max(randoms))
    assert ours > 0.9  # one ball per blob covers (nearly) everything


def test_the_purity_rule_keeps_95_percent_of_balls_pure() -> None:
    x, pseudo = make_blobs(n_samples=300, centers=[[0, 0], [6, 0]], cluster_std=1.0, random_state=0)
    delta = purity_radius(x, pseudo, 0.95)
    nn = NearestNeighbors(radius=delta).fit(x)
    balls = nn.radius_neighbors(x, return_distance=False)
    pure = np.mean([len(set(pseudo[ball])) == 1 for ball in balls])
    assert pure >= 0.95
    wider = nn.radius_neighbors(x, radius=delta * 1.5, return_distance=False)
    assert np.mean([len(set(pseudo[ball])) == 1 for ball in wider]) < 0.95  # the largest such radius, not any


def test_probcover_leaves_what_the_labels_cover_for_later() -> None:
    x, y = blobs()
    in_big = y == 0
    first = ProbCover().select(blobs_context(0), 3)
    covered = ProbCover().select(blobs_context(0, labeled=x[in_big][:8]), 3)
    assert in_big[first].any()  # unlabelled, the biggest blob is worth a pick
    assert not in_big[covered].any()  # labelled, its balls are covered


def test_probcover_bounds_the_radius_graph() -> None:
    ctx = blobs_context(0, n=200)
    strategy = ProbCover(delta=100.0, max_edges=500)  # a radius holding everything: 40,000 edges unbounded
    members, graph, _ = strategy._cover(ctx)
    assert graph.nnz - members.shape[0] <= 500
    assert len(strategy.select(blobs_context(0, n=200), 10)) == 10


def context_with(accuracy: float | None, seed: int = 5) -> PoolContext:
    base = vector_context(60, seed)
    return PoolContext(pool=base.pool, learner=base.learner, rng=np.random.default_rng(seed), labeled=base.labeled,
                       labeled_y=base.labeled_y, classes=base.classes, ids=base.ids, prequential_accuracy=accuracy)


def test_adaptive_follows_its_prequential_signal() -> None:
    strategy = Adaptive(switch_accuracy=0.8)
    assert cold_share(None, 0.8, has_model=False) == 1.0
    assert cold_share(None, 0.8, has_model=True, first_share=0.3) == pytest.approx(0.3)
    assert cold_share(0.4, 0.8, has_model=True) == pytest.approx(0.5)
    assert cold_share(0.95, 0.8, has_model=True) == 0.0
    # no model: the whole batch is the cold start's
    assert np.array_equal(strategy.select(blobs_context(2), 10), TypiClust().select(blobs_context(2), 10))
    # a model without a prequential score yet: first_share of the batch
    assert np.array_equal(Adaptive(first_share=1.0).select(context_with(None), 10),
                          TypiClust().select(context_with(None), 10))
    assert np.array_equal(Adaptive(first_share=0.5).select(context_with(None), 10)[:5],
                          TypiClust().select(context_with(None), 5))
    # a good model: uncertainty only
    assert np.array_equal(strategy.select(context_with(0.9), 10), Margin().select(context_with(0.9), 10))
    # halfway: half the batch each, cold start first
    mixed = strategy.select(context_with(0.4), 10)
    assert np.array_equal(mixed[:5], TypiClust().select(context_with(0.4), 5))
    margins = Margin().score(context_with(0.4))
    assert np.median(margins[mixed[5:]]) > np.median(margins)  # the rest: uncertain items


def test_adaptive_refuses_a_cold_start_that_needs_a_model() -> None:
    with pytest.raises(ValueError, match="needs a model"):
        Adaptive(cold="margin").check()
    with pytest.raises(ValueError, match="switch_accuracy"):
        Adaptive(switch_accuracy=0).check()
    with pytest.raises(ValueError, match="first_share"):
        Adaptive(first_share=1.5).check()


def scored(hits: list[bool]) -> list[tuple[Task, Annotation]]:
    return [(Task(id=k, project_id=1, data={}), Annotation(
        id=k, task_id=k, project_id=1, labels=["a"], predicted_labels=["a" if hit else "b"], predicted_version="v1"))
        for k, hit in enumerate(hits)]


def test_the_prequential_signal_is_the_best_window_so_far() -> None:
    assert best_prequential_accuracy(scored([True] * 4)) is None  # too few scored labels
    assert best_prequential_accuracy(scored([True, False] * 10)) == pytest.approx(0.5)
    # 30 right in a row, then an uncertainty strategy asks for the items the model gets wrong: the signal holds
    assert best_prequential_accuracy(scored([False] * 30 + [True] * 30 + [False] * 30)) == 1.0
    unscored = [(t, Annotation(id=a.id, task_id=a.task_id, project_id=1, labels=["a"]))
                for t, a in scored([True] * 20)]
    assert best_prequential_accuracy(unscored) is None  # labels given before any model: nothing to score
