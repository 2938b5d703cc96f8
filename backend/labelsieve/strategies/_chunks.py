"""Bounded-memory helpers shared by the built-in strategies (k-means, nearest centroids, reference
similarities, sub-contexts, score normalisation).

Every pass over the pool goes ``chunk`` rows at a time against at most ``k`` centres or reference
rows, so memory is ``O(n d + chunk k)``, never ``n x n``. Clustering is *fitted* on a bounded random
subsample (drawn from the caller's ``rng``) and then applied to the whole pool.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from labelsieve.strategies.base import PoolContext, StrategyRequirementError

CHUNK = 16_384


def sq_dists(block: np.ndarray, centres: np.ndarray, centres_sq: np.ndarray) -> np.ndarray:
    """``(len(block), len(centres))`` squared Euclidean distances, clipped at 0."""
    block = block.astype(np.float32, copy=False)
    dist = (block**2).sum(axis=1)[:, None] - 2.0 * (block @ centres.T) + centres_sq[None, :]
    return np.maximum(dist, 0.0)


def nearest_centre(x: np.ndarray, centres: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest centre and the squared distance to it, for every row of ``x`` (chunked)."""
    centres = np.asarray(centres, dtype=np.float32)
    centres_sq = (centres**2).sum(axis=1)
    labels = np.empty(x.shape[0], dtype=np.int64)
    dist = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], chunk):
        d = sq_dists(x[start:start + chunk], centres, centres_sq)
        labels[start:start + chunk] = d.argmin(axis=1)
        dist[start:start + chunk] = d[np.arange(d.shape[0]), labels[start:start + chunk]]
    return labels, dist


def fit_centres(x: np.ndarray, k: int, rng: np.random.Generator, *, sample: int = 10_000) -> np.ndarray:
    """k-means centroids (scikit-learn k-means++ / Lloyd) fitted on at most ``sample`` rows of ``x``."""
    from sklearn.cluster import KMeans

    n = x.shape[0]
    k = max(1, min(int(k), n))
    rows = x if n <= sample else x[np.sort(rng.choice(n, size=sample, replace=False))]
    rows = np.asarray(rows, dtype=np.float32)
    seed = int(rng.integers(0, 2**31 - 1))
    model = KMeans(n_clusters=k, n_init=1, max_iter=30, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters: duplicate centres are fine
        model.fit(rows)
    return model.cluster_centers_.astype(np.float32)


def nearest_to_centres(x: np.ndarray, centres: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """For each centre, the index of the pool row closest to it (chunked over the pool)."""
    centres = np.asarray(centres, dtype=np.float32)
    centres_sq = (centres**2).sum(axis=1)
    best = np.full(centres.shape[0], np.inf)
    best_index = np.zeros(centres.shape[0], dtype=np.int64)
    for start in range(0, x.shape[0], chunk):
        d = sq_dists(x[start:start + chunk], centres, centres_sq)
        arg = d.argmin(axis=0)
        value = d[arg, np.arange(centres.shape[0])]
        better = value < best
        best[better] = value[better]
        best_index[better] = arg[better] + start
    return best_index


def fill(picks: list[int] | np.ndarray, scores: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``picks`` (deduplicated, order kept), topped up to ``min(n, len(scores))`` by descending score."""
    seen: dict[int, None] = dict.fromkeys(int(i) for i in picks)
    out = list(seen)[:n]
    want = min(n, scores.shape[0])
    if len(out) < want:
        rest = np.ones(scores.shape[0], dtype=bool)
        rest[out] = False
        candidates = np.flatnonzero(rest)
        tiebreak = rng.random(candidates.shape[0])
        order = candidates[np.lexsort((-tiebreak, -scores[candidates]))]
        out.extend(int(i) for i in order[: want - len(out)])
    return np.asarray(out, dtype=np.int64)


def pool_vectors(ctx: PoolContext, who: str) -> np.ndarray:
    """Embeddings from the context, the learner, or the pool items themselves when they are vectors."""
    if ctx.pool_embeddings is not None or ctx.learner is not None:
        return np.asarray(ctx.embeddings, dtype=np.float32)
    if ctx.n_pool == 0:
        return np.zeros((0, 1), dtype=np.float32)
    first = np.asarray(ctx.pool[0])
    if first.ndim == 1 and np.issubdtype(first.dtype, np.number):
        return np.vstack([np.asarray(item, dtype=np.float32) for item in ctx.pool])
    raise StrategyRequirementError(
        f"{who} needs embeddings: give pool_embeddings, a fitted learner, or a pool of numeric vectors"
    )


def subset_context(ctx: PoolContext, members: np.ndarray) -> PoolContext:
    """The context restricted to pool rows ``members``; arrays already computed are sliced, not recomputed."""
    cached = ctx.__dict__
    probas = ctx.pool_probas if ctx.pool_probas is not None else cached.get("probas")
    embeddings = ctx.pool_embeddings if ctx.pool_embeddings is not None else cached.get("embeddings")
    labeled_emb = ctx.labeled_embeddings_given
    if labeled_emb is None and "labeled_embeddings" in cached:
        labeled_emb = cached["labeled_embeddings"]
    pool: Any = [ctx.pool[int(i)] for i in members] if len(ctx.pool) == ctx.n_pool else members
    return PoolContext(
        pool=pool, learner=ctx.learner, rng=ctx.rng, labeled=ctx.labeled, labeled_y=ctx.labeled_y,
        classes=ctx.classes, ids=None if ctx.ids is None else ctx.ids[members],
        pool_probas=None if probas is None else probas[members],
        pool_embeddings=None if embeddings is None else embeddings[members],
        labeled_embeddings_given=labeled_emb, mc_samples=ctx.mc_samples,
        prequential_accuracy=ctx.prequential_accuracy,
    )


def normalise(scores: np.ndarray, how: str) -> np.ndarray:
    """Scores mapped into [0, 1]: ``"rank"`` (ties share their mean rank) or ``"minmax"``."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    if n == 0:
        return scores
    if how == "rank":
        from scipy.stats import rankdata

        return (rankdata(scores, method="average") - 1.0) / max(n - 1, 1)
    if how == "minmax":
        low, high = scores.min(), scores.max()
        return np.zeros(n) if high - low <= 0 else (scores - low) / (high - low)
    raise ValueError(f"unknown normalise {how!r}; use 'rank' or 'minmax'")
