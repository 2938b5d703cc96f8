"""k-means representatives: one item per cluster, the one nearest its centroid (diversity)."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies._chunks import fill, fit_centres, nearest_centre, nearest_to_centres, pool_vectors
from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy


class KMeansRepresentatives(QueryStrategy):
    """k-means representatives: cluster the embeddings, label the item nearest each centroid.

    ``select(n)`` clusters into ``n_clusters`` (default ``n``) clusters and returns the item nearest
    each centroid, biggest cluster first. ``score`` is representativeness, ``-`` the squared
    distance to the item's own centroid (``n_clusters`` or 50 clusters). The centroids are fitted on
    at most ``fit_sample`` random items; assignment runs over the whole pool in chunks:
    ``O(n d k)`` time, ``O(n d + chunk k)`` memory. Works without a model on vector pools.
    """

    task_types = (ANY_TASK_TYPE,)  # reads embeddings (or nothing) only: any task type

    category = "diversity"
    batch_aware = True
    needs_model = False

    def __init__(self, n_clusters: int | None = None, fit_sample: int = 10_000) -> None:
        self.n_clusters = n_clusters
        self.fit_sample = fit_sample

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.n_pool == 0:
            return np.zeros(0)
        x = pool_vectors(ctx, "kmeans")
        centres = fit_centres(x, self.n_clusters or 50, ctx.rng, sample=self.fit_sample)
        _, dist = nearest_centre(x, centres)
        return -dist

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        x = pool_vectors(ctx, "kmeans")
        centres = fit_centres(x, self.n_clusters or n, ctx.rng, sample=self.fit_sample)
        labels, dist = nearest_centre(x, centres)
        sizes = np.bincount(labels, minlength=centres.shape[0])
        reps = nearest_to_centres(x, centres)
        order = np.argsort(-sizes, kind="stable")
        return fill(reps[order], -dist, n, ctx.rng)
