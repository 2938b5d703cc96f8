"""Core-set k-center greedy and BADGE: exact agreement with naive references, behaviour, bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from labelsieve.strategies.badge import Badge, gradient_factor
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.coreset import CoreSet
from labelsieve.strategies.distance import ChunkedPool
from labelsieve.strategies.kcenter_bounds import BoundedPool, kcenter_bounded


def make_ctx(pool: np.ndarray, seed: int, labeled: np.ndarray | None = None, probas: np.ndarray | None = None):
    return PoolContext(
        pool=range(pool.shape[0]),
        learner=None,
        rng=np.random.default_rng(seed),
        pool_embeddings=pool,
        labeled_embeddings_given=labeled,
        pool_probas=probas,
    )


def naive_kcenter(pool: np.ndarray, labeled: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """Textbook greedy k-center in float64 with explicit differences."""
    x = pool.astype(np.float64)
    centres = list(labeled.astype(np.float64))
    picks: list[int] = []
    if not centres:
        picks.append(int(rng.integers(x.shape[0])))
        centres.append(x[picks[0]])
    while len(picks) < n:
        dist = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
        dist[picks] = -np.inf
        picks.append(int(np.argmax(dist)))
        centres.append(x[picks[-1]])
    return picks


def naive_badge(pool: np.ndarray, probas: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """BADGE with the full n x (C*d) gradient matrix and the same D^2 sampling protocol."""
    g = (gradient_factor(probas)[:, :, None] * pool.astype(np.float64)[:, None, :]).reshape(pool.shape[0], -1)
    picks = [int(np.argmax((g**2).sum(axis=1)))]
    d2 = ((g - g[picks[0]]) ** 2).sum(axis=1)
    while len(picks) < n:
        d2[picks] = 0.0
        cumulative = np.cumsum(d2)
        picks.append(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")))
        d2 = np.minimum(d2, ((g - g[picks[-1]]) ** 2).sum(axis=1))
    return picks


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("n_labeled", [0, 7])
def test_kcenter_matches_naive(precision: str, n_labeled: int) -> None:
    data = np.random.default_rng(3).standard_normal((600, 24)).astype(np.float32)
    pool, labeled = data[:500], data[500:500 + n_labeled]
    picks = CoreSet(precision=precision, chunk_size=128).select(make_ctx(pool, 11, labeled), 40)
    assert picks.tolist() == naive_kcenter(pool, labeled, 40, np.random.default_rng(11))


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_badge_matches_naive(precision: str) -> None:
    rng = np.random.default_rng(5)
    pool = rng.standard_normal((300, 16)).astype(np.float32)
    probas = rng.dirichlet(np.full(5, 0.5), size=300)
    picks = Badge(precision=precision, chunk_size=64).select(make_ctx(pool, 8, probas=probas), 30)
    assert picks.tolist() == naive_badge(pool, probas, 30, np.random.default_rng(8))
    assert len(set(picks.tolist())) == 30


def blobs(n: int = 5000, d: int = 16, k: int = 20, seed: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = 10.0 * rng.standard_normal((k, d))
    return (centres[rng.integers(0, k, n)] + rng.standard_normal((n, d))).astype(np.float32)


@pytest.mark.parametrize("n_labeled", [0, 7])
def test_pruned_kcenter_matches_naive_and_reads_a_fraction_of_the_pool(n_labeled: int) -> None:
    data = blobs()
    pool, labeled = data[:4800], data[4800:4800 + n_labeled]
    picks = CoreSet(prune=True).select(make_ctx(pool, 11, labeled), 60)
    assert picks.tolist() == naive_kcenter(pool, labeled, 60, np.random.default_rng(11))
    stored = ChunkedPool(pool, device="cpu")
    groups = BoundedPool(stored)
    min_dist = stored.min_sqdist_to(labeled) if n_labeled else torch.full((4800,), float("inf"))
    again = kcenter_bounded(stored, min_dist, 60, first=None if n_labeled else int(picks[0]), groups=groups)
    assert again.tolist() == picks.tolist()
    assert groups.rows_read < 0.5 * 60 * 4800  # the pruning did skip most of the reads


@pytest.mark.parametrize("options", [{"precision": "float16"}, {"projection_dim": 8}, {"subsample": 0.9}])
def test_pruning_keeps_the_picks_of_full_passes(options: dict) -> None:
    data = blobs(6000, d=32, k=30, seed=2)
    pool, labeled = data[:5900], data[5900:]
    full = CoreSet(prune=False, **options).select(make_ctx(pool, 3, labeled), 120)
    assert CoreSet(prune=True, **options).select(make_ctx(pool, 3, labeled), 120).tolist() == full.tolist()


def test_coreset_scores_and_selects_in_one_projection() -> None:
    """The service calls score() then select() on one context: both must use the same random projection."""
    data = blobs(600, d=32, k=6, seed=4)
    pool, labeled = data[:590], data[590:]
    strategy = CoreSet(projection_dim=4)
    ctx = make_ctx(pool, 2, labeled)
    scores = strategy.score(ctx)
    first = strategy.select(ctx, 1)
    assert first.tolist() == [int(np.argmax(scores))]  # the farthest item from the labels, in the same space


def clusters(n_per: int, centres: np.ndarray, seed: int, spread: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    member = np.repeat(np.arange(centres.shape[0]), n_per)
    noise = spread * rng.standard_normal((member.shape[0], centres.shape[1]))
    return (centres[member] + noise).astype(np.float32), member


def test_coreset_covers_the_clusters_the_labels_miss() -> None:
    centres = 20.0 * np.eye(6, 32)
    pool, member = clusters(100, centres, seed=1)
    labeled = pool[member == 0][:3]
    strategy = CoreSet()
    ctx = make_ctx(pool, 0, labeled)
    picks = strategy.select(ctx, 5)
    assert sorted(member[picks].tolist()) == [1, 2, 3, 4, 5]
    scores = strategy.score(ctx)
    assert scores[member == 0].max() < scores[member != 0].min()
    assert np.allclose(scores[member == 0][:3], 0.0, atol=0.05)  # float32 |x|^2 - 2x.c + |c|^2 rounding


@pytest.mark.parametrize("options", [{}, {"projection_dim": 16}, {"precision": "bfloat16"}])
def test_badge_picks_uncertain_and_diverse_items(options: dict) -> None:
    centres = 10.0 * np.eye(8, 32)
    pool, member = clusters(150, centres, seed=2)
    rng = np.random.default_rng(4)
    # clusters 0-3 confident, 4-7 uncertain; cluster 4 is the most uncertain of all
    confidence = np.where(member < 4, 0.98, np.where(member == 4, 0.30, 0.45)) + 0.01 * rng.random(member.shape[0])
    probas = np.column_stack([confidence, (1 - confidence) / 2, (1 - confidence) / 2])
    ctx = make_ctx(pool, 0, probas=probas)
    picks = Badge(**options).select(ctx, 12)
    assert len(set(picks.tolist())) == 12
    assert (member[picks] >= 4).mean() >= 0.9  # uncertain
    assert set(member[picks].tolist()) >= {4, 5, 6, 7}  # diverse
    by_uncertainty = np.argsort(-Badge().score(ctx))[:12]
    assert set(member[by_uncertainty].tolist()) == {4}  # what pure uncertainty would have done


def covering_radius(pool: np.ndarray, centres: np.ndarray) -> float:
    best = np.full(pool.shape[0], np.inf)
    for c in centres.astype(np.float64):
        best = np.minimum(best, ((pool - c) ** 2).sum(axis=1))
    return float(np.sqrt(best.max()))


def test_precision_projection_and_subsample_keep_the_covering_radius() -> None:
    rng = np.random.default_rng(9)
    centres = 4.0 * rng.standard_normal((60, 512))
    member = rng.integers(0, 60, size=6000)
    pool = (centres[member] + rng.standard_normal((6000, 512))).astype(np.float32)
    labeled = pool[:5]
    pool64 = pool.astype(np.float64)

    def radius(strategy: CoreSet) -> float:
        picks = strategy.select(make_ctx(pool, 1, labeled), 80)
        assert len(set(picks.tolist())) == 80
        return covering_radius(pool64, np.vstack([labeled, pool[picks]]))

    exact = radius(CoreSet())
    random_radius = covering_radius(pool64, np.vstack([labeled, pool[rng.choice(6000, 80, replace=False)]]))
    assert exact < 0.8 * random_radius
    for options in ({"precision": "float16"}, {"precision": "bfloat16"}, {"projection_dim": 128}):
        assert radius(CoreSet(**options)) <= 1.05 * exact, options
    assert radius(CoreSet(subsample=0.5)) < 0.9 * random_radius


SCALE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from labelsieve.strategies.base import PoolContext
    from labelsieve.strategies.coreset import CoreSet
    from labelsieve.strategies.badge import Badge
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((200_000, 512), dtype=np.float32)
    labeled = rng.standard_normal((50, 512), dtype=np.float32)
    probas = rng.dirichlet(np.ones(10), size=200_000)
    import labelsieve.strategies.distance  # noqa: F401  (imports done before the baseline)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ctx = PoolContext(pool=range(200_000), learner=None, rng=np.random.default_rng(1), pool_embeddings=pool,
                      labeled_embeddings_given=labeled, pool_probas=probas)
    core = CoreSet(chunk_size=16384).select(ctx, 20)
    scores = CoreSet(chunk_size=16384).score(ctx)
    badge = Badge(chunk_size=16384).select(ctx, 20)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"growth": peak - base, "pool": pool.nbytes, "core": core.tolist(), "badge": badge.tolist(),
                      "finite": bool(np.isfinite(scores).all())}))
    """
)


def test_200k_by_512_pool_runs_in_bounded_memory() -> None:
    out = subprocess.run([sys.executable, "-c", SCALE_SCRIPT], capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(set(result["core"])) == 20 and len(set(result["badge"])) == 20 and result["finite"]
    # an n x n float32 matrix would be 160 GB; even one extra copy of the pool would be 0.4 GB
    assert result["growth"] < 0.5 * result["pool"], result["growth"]
