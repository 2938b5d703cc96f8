"""TypiClust (Hacohen, Dekel & Weinshall, ICML 2022): typical items of uncovered clusters, for a cold start."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies._chunks import CHUNK, fill, fit_centres, nearest_centre, pool_vectors, sq_dists
from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy


def typicality(x: np.ndarray, reference: np.ndarray, ref_index: np.ndarray, k: int, chunk: int = CHUNK) -> np.ndarray:
    """``1 / mean distance to the k nearest reference rows`` for every row of ``x`` (chunked).

    ``ref_index[i]`` is the position of row ``i`` inside ``reference`` (``-1`` if absent), so an
    item is never its own neighbour.
    """
    ref = reference.astype(np.float32)
    ref_sq = (ref**2).sum(axis=1)
    k = max(1, min(int(k), ref.shape[0] - 1 if ref.shape[0] > 1 else 1))
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk):
        d = sq_dists(x[start:start + chunk], ref, ref_sq)
        own = ref_index[start:start + chunk]
        rows = np.flatnonzero(own >= 0)
        d[rows, own[rows]] = np.inf
        nearest = np.sqrt(np.partition(d, k - 1, axis=1)[:, :k])
        nearest = np.where(np.isfinite(nearest), nearest, 0.0)
        out[start:start + chunk] = 1.0 / (nearest.mean(axis=1) + 1e-12)
    return out


def sample_typicality(x: np.ndarray, members: np.ndarray, k: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Typicality of ``members`` measured against at most ``size`` random members (bounded cost)."""
    ref_rows = members if members.shape[0] <= size else np.sort(rng.choice(members, size=size, replace=False))
    where = np.searchsorted(members, ref_rows)  # members are sorted: each reference row's position
    ref_index = np.full(members.shape[0], -1, dtype=np.int64)
    ref_index[where] = np.arange(ref_rows.shape[0])
    rows = x if members.shape[0] == x.shape[0] else x[members]  # the whole pool is never copied
    return typicality(rows, x[ref_rows], ref_index, k)


class TypiClust(QueryStrategy):
    """TypiClust: the most typical item of each of the largest clusters not yet covered by labels.

    Needs no model: it works on the context's embeddings, the learner's, or a pool of vectors.
    ``select(n)`` runs k-means with ``n + n_labeled`` clusters (fitted on a bounded subsample),
    visits clusters with the fewest labelled items first, then the biggest, and picks the member
    with the highest typicality, ``1 / mean distance to its k nearest neighbours`` within the
    cluster (measured on at most ``reference_size`` members). ``score`` is typicality against a
    random reference sample of the whole pool, so dense regions beat outliers. Cost:
    ``O(n d (k_clusters + reference_size))``, memory ``O(chunk * reference_size)``.
    """

    task_types = (ANY_TASK_TYPE,)  # reads embeddings (or nothing) only: any task type

    category = "cold-start"
    batch_aware = True
    needs_model = False

    def __init__(self, k_neighbors: int = 20, reference_size: int = 256, fit_sample: int = 10_000) -> None:
        self.k_neighbors = k_neighbors
        self.reference_size = reference_size
        self.fit_sample = fit_sample

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.n_pool == 0:
            return np.zeros(0)
        x = pool_vectors(ctx, "typiclust")
        return sample_typicality(x, np.arange(ctx.n_pool), self.k_neighbors, int(self.reference_size), ctx.rng)

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        x = pool_vectors(ctx, "typiclust")
        labeled = ctx.labeled_embeddings if (ctx.learner is not None or ctx.labeled_embeddings_given is not None) \
            else np.zeros((0, x.shape[1]), dtype=np.float32)
        centres = fit_centres(x, n + labeled.shape[0], ctx.rng, sample=self.fit_sample)
        labels, _ = nearest_centre(x, centres)
        sizes = np.bincount(labels, minlength=centres.shape[0])
        covered = np.zeros(centres.shape[0], dtype=np.int64)
        if labeled.shape[0]:
            covered = np.bincount(nearest_centre(labeled, centres)[0], minlength=centres.shape[0])
        order = np.lexsort((-sizes, covered))  # fewest labels first, then biggest
        picks: list[int] = []
        for cluster in order:
            if len(picks) >= n:
                break
            members = np.flatnonzero(labels == cluster)
            if members.shape[0] == 0:
                continue
            typical = sample_typicality(x, members, self.k_neighbors, int(self.reference_size), ctx.rng)
            picks.append(int(members[int(np.argmax(typical))]))
        return fill(picks, np.zeros(ctx.n_pool), n, ctx.rng)
