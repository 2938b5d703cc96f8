"""Cluster-margin (Citovsky et al., NeurIPS 2021): low-margin candidates, round-robin over clusters."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies._chunks import fill, nearest_centre, pool_vectors
from labelsieve.strategies.base import PoolContext, QueryStrategy
from labelsieve.strategies.uncertainty import Margin


class ClusterMargin(QueryStrategy):
    """Cluster-margin: the ``margin_factor * n`` lowest-margin items, taken round-robin over clusters.

    Clusters come from average-linkage agglomerative clustering (HAC, as in the paper) of at most
    ``hac_sample`` random pool items into ``n_clusters`` groups; every pool item then joins the
    cluster of the nearest cluster mean (chunked). Clusters are visited smallest first, as in the
    paper, taking each cluster's lowest-margin candidate in turn. ``score`` is the margin score.
    Cost: ``O(s^2)`` for HAC on the ``s``-item sample plus ``O(n d k)`` for the assignment.
    """

    category = "hybrid"
    batch_aware = True

    def __init__(self, margin_factor: float = 10.0, n_clusters: int = 20, hac_sample: int = 2_000) -> None:
        self.margin_factor = margin_factor
        self.n_clusters = n_clusters
        self.hac_sample = hac_sample

    def score(self, ctx: PoolContext) -> np.ndarray:
        return Margin().score(ctx)

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        from sklearn.cluster import AgglomerativeClustering

        scores = self.score(ctx)
        x = pool_vectors(ctx, "cluster_margin")
        size = min(ctx.n_pool, int(self.hac_sample))
        sample = np.sort(ctx.rng.choice(ctx.n_pool, size=size, replace=False))
        k = max(1, min(int(self.n_clusters), size))
        if k > 1:
            hac = AgglomerativeClustering(n_clusters=k, linkage="average").fit(x[sample])
            sample_labels = hac.labels_
        else:
            sample_labels = np.zeros(size, dtype=np.int64)
        centres = np.vstack([x[sample[sample_labels == c]].mean(axis=0) for c in np.unique(sample_labels)])
        labels, _ = nearest_centre(x, centres)
        n_candidates = min(ctx.n_pool, max(n, int(np.ceil(self.margin_factor * n))))
        tiebreak = ctx.rng.random(ctx.n_pool)
        candidates = np.lexsort((-tiebreak, -scores))[:n_candidates]
        groups: dict[int, list[int]] = {}
        for index in candidates:  # already best-first
            groups.setdefault(int(labels[index]), []).append(int(index))
        queues = sorted(groups.values(), key=len)
        picks: list[int] = []
        depth = 0
        while len(picks) < n and any(depth < len(q) for q in queues):
            picks.extend(q[depth] for q in queues if depth < len(q))
            depth += 1
        return fill(picks[:n], scores, n, ctx.rng)
