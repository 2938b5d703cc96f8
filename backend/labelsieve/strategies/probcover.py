"""ProbCover (Yehuda, Dekel, Hacohen & Weinshall, NeurIPS 2022, "Active Learning Through a Covering Lens").

Cold start as max coverage: every item "covers" the items within distance ``delta`` of it (its ball); pick the
items whose balls cover the most not-yet-covered pool, greedily, after removing what the labelled items cover.
``delta`` follows the paper's purity rule: the largest radius at which at least ``purity`` of the balls hold one
k-means pseudo-label only. The distance from an item to the nearest item of another pseudo-label is the largest
pure radius of its ball, so that radius is the ``1 - purity`` quantile of those distances.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

from labelsieve.strategies._chunks import fill, fit_centres, nearest_centre, pool_vectors
from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy

DEGREE_PROBE = 256  # items whose ball sizes estimate the graph's edge count before it is built
WORKING_MEMORY_MB = 64  # scikit-learn's chunked distance computations stay under this (its default is 1 GB)


def pure_radius(x: np.ndarray, pseudo: np.ndarray) -> np.ndarray:
    """For every row, the distance to the nearest row of another pseudo-label (inf when there is none)."""
    out = np.full(x.shape[0], np.inf)
    for label in np.unique(pseudo):
        inside, outside = pseudo == label, pseudo != label
        if not outside.any():
            continue
        nn = NearestNeighbors(n_neighbors=1).fit(x[outside])
        out[inside] = nn.kneighbors(x[inside], return_distance=True)[0][:, 0]
    return out


def purity_radius(x: np.ndarray, pseudo: np.ndarray, purity: float) -> float:
    """The largest ``delta`` at which at least ``purity`` of the balls are pure (one pseudo-label)."""
    radii = pure_radius(x, pseudo)
    finite = radii[np.isfinite(radii)]
    if finite.shape[0] == 0:  # one pseudo-label: every ball is pure; use the median pairwise scale
        return float(np.median(np.linalg.norm(x - x.mean(axis=0), axis=1))) if x.shape[0] else 0.0
    # a ball of radius delta is pure iff delta < its pure radius; the quantile keeps `purity` of them pure
    return float(np.quantile(radii, 1.0 - purity, method="lower")) * (1.0 - 1e-6)


def bounded_radius(nn: NearestNeighbors, x: np.ndarray, delta: float, max_edges: int,
                   rng: np.random.Generator) -> float:
    """``delta``, shrunk (halving) until the estimated edge count of the radius graph is at most ``max_edges``."""
    probe = x if x.shape[0] <= DEGREE_PROBE else x[rng.choice(x.shape[0], size=DEGREE_PROBE, replace=False)]
    for _ in range(60):
        counts = np.array([len(row) for row in nn.radius_neighbors(probe, radius=delta, return_distance=False)])
        if counts.mean() * x.shape[0] <= max_edges or delta <= 0:
            return delta
        delta /= 2.0
    return delta


def greedy_cover(graph: sparse.csr_matrix, covered: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """Greedy max coverage on a symmetric 0/1 graph (self loops included): up to ``n`` picks, each covering the
    most uncovered items; stops early when everything reachable is covered."""
    covered = covered.copy()
    gain = np.asarray(graph[:, ~covered].sum(axis=1)).ravel().astype(np.int64) if graph.shape[0] else np.zeros(0)
    tiebreak = rng.random(graph.shape[0])
    picks: list[int] = []
    chosen = np.zeros(graph.shape[0], dtype=bool)
    while len(picks) < n:
        masked = np.where(chosen, -1.0, gain + 0.5 * tiebreak)  # ties in gain broken at random
        best = int(np.argmax(masked)) if masked.shape[0] else -1
        if best < 0 or gain[best] <= 0 or chosen[best]:
            break
        picks.append(best)
        chosen[best] = True
        row = graph.indices[graph.indptr[best]:graph.indptr[best + 1]]
        fresh = row[~covered[row]]
        covered[fresh] = True
        if fresh.shape[0]:  # every item whose ball holds a newly covered item gains one less
            hit = graph[fresh].indices
            gain -= np.bincount(hit, minlength=graph.shape[0])
    return picks


class ProbCover(QueryStrategy):
    """ProbCover: greedy max coverage of the pool by balls of radius ``delta`` on the embeddings.

    Needs no model: it works on the context's embeddings, the learner's, or a pool of vectors. ``delta`` is chosen
    by the paper's purity rule on ``clusters`` k-means pseudo-labels (default: the number of known classes, at
    least 2; ``delta`` given: used as is). The radius graph is a sparse matrix (scikit-learn ``NearestNeighbors``)
    over at most ``max_points`` items drawn at random from the pool (the rest are picked only past them), and
    ``delta`` shrinks until the graph holds at most ``max_edges`` edges, so memory is ``O(max_edges)``. Balls of
    the labelled items count as covered. ``select`` picks greedily the item covering the most uncovered items;
    once all is covered it tops up by ``score``: the number of uncovered items in each item's ball.
    """

    task_types = (ANY_TASK_TYPE,)  # reads embeddings (or nothing) only: any task type

    category = "cold-start"
    batch_aware = True
    needs_model = False

    def __init__(self, purity: float = 0.95, clusters: int | None = None, delta: float | None = None,
                 max_points: int = 20_000, max_edges: int = 5_000_000) -> None:
        self.purity = purity
        self.clusters = clusters
        self.delta = delta
        self.max_points = max_points
        self.max_edges = max_edges

    def check(self) -> None:
        if not 0.0 < float(self.purity) <= 1.0:
            raise ValueError(f"purity must be in (0, 1], got {self.purity}")
        if self.clusters is not None and int(self.clusters) < 2:
            raise ValueError(f"clusters must be at least 2, got {self.clusters}")
        if self.delta is not None and not float(self.delta) > 0:
            raise ValueError(f"delta must be a positive distance, got {self.delta}")
        if int(self.max_points) < 1 or int(self.max_edges) < 1:
            raise ValueError("max_points and max_edges must be positive")

    def _members(self, ctx: PoolContext) -> np.ndarray:
        size = int(self.max_points)
        if ctx.n_pool <= size:
            return np.arange(ctx.n_pool)
        return ctx.drawn_once(("probcover", size),
                              lambda rng: np.sort(rng.choice(ctx.n_pool, size=size, replace=False)))

    def _cover(self, ctx: PoolContext) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
        """(members, their radius graph, which members the labelled items cover), drawn once per context."""
        with config_context(working_memory=WORKING_MEMORY_MB):
            return ctx.drawn_once(("probcover-graph", repr(self)), lambda rng: self._build(ctx, rng))

    def _build(self, ctx: PoolContext, rng: np.random.Generator) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
        members = self._members(ctx)
        x = pool_vectors(ctx, "probcover")[members].astype(np.float32)
        delta = self.radius(x, ctx.n_classes, rng)
        nn = NearestNeighbors(radius=delta).fit(x)
        delta = bounded_radius(nn, x, delta, int(self.max_edges), rng)
        graph = nn.radius_neighbors_graph(x, radius=delta, mode="connectivity").tocsr()
        graph = ((graph + sparse.identity(x.shape[0], format="csr")) > 0).astype(np.int8).tocsr()
        covered = np.zeros(x.shape[0], dtype=bool)
        labeled = ctx.labeled_embeddings if (ctx.learner is not None or ctx.labeled_embeddings_given is not None) \
            else np.zeros((0, x.shape[1]), dtype=np.float32)
        if labeled.shape[0]:
            for row in nn.radius_neighbors(np.asarray(labeled, dtype=np.float32), radius=delta,
                                           return_distance=False):
                covered[row] = True
        return members, graph, covered

    def radius(self, x: np.ndarray, n_classes: int, rng: np.random.Generator) -> float:
        """``delta`` as given, else by the purity rule on k-means pseudo-labels of ``x``."""
        if self.delta is not None:
            return float(self.delta)
        if x.shape[0] < 2:
            return 1.0
        k = int(self.clusters) if self.clusters is not None else max(2, n_classes)
        centres = fit_centres(x, min(k, x.shape[0]), rng)
        pseudo, _ = nearest_centre(x, centres)
        delta = purity_radius(x, pseudo, float(self.purity))
        return delta if delta > 0 else float(np.finfo(np.float32).eps)

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.n_pool == 0:
            return np.zeros(0)
        members, graph, covered = self._cover(ctx)
        out = np.full(ctx.n_pool, -1.0)
        out[members] = np.asarray(graph[:, ~covered].sum(axis=1)).ravel()
        return out

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        members, graph, covered = self._cover(ctx)
        picks = members[np.asarray(greedy_cover(graph, covered, n, ctx.rng), dtype=np.int64)]
        return fill(picks, self.score(ctx), n, ctx.rng)

