"""Exact pruning for greedy k-center: skip the parts of the pool a new centre cannot get closer to.

The pool is split once into groups around ``n_groups`` anchors (k-means on a fixed-seed sample of
the stored rows, so the caller's ``rng`` stream is untouched), each with a radius ``r_g`` (farthest
member from its anchor ``a_g``). For a new centre ``c`` every member ``x`` of group ``g`` has
``|x - c| >= |c - a_g| - r_g`` (triangle inequality). If that lower bound squared exceeds the
largest current ``min_dist`` in the group (kept as an upper bound ``gmax_g``), no member's
``min_dist`` can change and the group is not read. The margins cover float32 rounding, so the
picks are those of the full pass; only the bytes read per pick go down, by how well the pool
clusters (on unclustered data nearly every group is read and the loop falls back to full passes).
A group that is read computes its rows' distances with :meth:`ChunkedPool.sqdist_rows`, the full pass's
own row-by-row formula, so pruned and full passes store bit-identical values.
"""

from __future__ import annotations

import numpy as np
import torch

from labelsieve.strategies.distance import ChunkedPool, kcenter_greedy

MIN_ROWS = 4096  # smaller pools: full passes are cheaper than the set-up
MIN_PICKS = 32  # the set-up (one pass against the anchors) costs about as much as a few dozen full passes
REL_TOL = 1e-4  # slack on squared distances, relative to the squared norms involved


def default_groups(n: int) -> int:
    """About 64 rows per group, at most 160 groups (the set-up pass costs ``n x groups x d``)."""
    return int(min(160, max(8, n // 64)))


def lloyd_anchors(pool: ChunkedPool, k: int, sample_per_group: int, iterations: int = 6) -> torch.Tensor:
    """``k`` anchors: farthest-first seeds refined by a few Lloyd iterations, on a fixed-seed sample of rows."""
    picker = np.random.default_rng(0)
    size = min(pool.n, k * sample_per_group)
    rows = torch.from_numpy(np.sort(picker.choice(pool.n, size=size, replace=False))).to(pool.device)
    sample = pool.x.index_select(0, rows).to(pool.acc)
    sample_sq = pool.sq[rows]
    chosen = [int(picker.integers(size))]  # farthest-first seeding: every separated cluster gets an anchor
    far = torch.full((size,), float("inf"), dtype=pool.acc, device=pool.device)
    for _ in range(k - 1):
        last = sample[chosen[-1]]
        far = torch.minimum(far, sample_sq - 2.0 * (sample @ last) + sample_sq[chosen[-1]])
        chosen.append(int(torch.argmax(far).item()))
    anchors = sample[torch.tensor(chosen, device=pool.device)].clone()
    for _ in range(iterations):
        d2 = sample_sq[:, None] - 2.0 * (sample @ anchors.T) + (anchors**2).sum(dim=1)[None, :]
        labels = d2.argmin(dim=1)
        sums = torch.zeros_like(anchors).index_add_(0, labels, sample)
        counts = torch.bincount(labels, minlength=k)
        filled = counts > 0
        anchors[filled] = sums[filled] / counts[filled, None].to(sums.dtype)
    return anchors


class BoundedPool:
    """Groups of ``pool`` rows with anchors, radii and an upper bound of ``min_dist`` per group."""

    def __init__(self, pool: ChunkedPool, n_groups: int | None = None, sample_per_group: int = 16) -> None:
        self.pool = pool
        acc, device = pool.acc, pool.device
        k = min(default_groups(pool.n) if n_groups is None else int(n_groups), pool.n)
        anchors = lloyd_anchors(pool, k, sample_per_group)
        self.anchors = anchors.to(torch.float64)
        self.anchor_sq = (self.anchors**2).sum(dim=1)
        a_acc = self.anchors.to(acc)
        a_sq_acc = (a_acc**2).sum(dim=1)
        labels = torch.empty(pool.n, dtype=torch.int64, device=device)
        nearest = torch.empty(pool.n, dtype=acc, device=device)
        for start, stop in pool.chunks():
            block = pool._block(start, stop).to(acc)
            d2 = pool.sq[start:stop, None] - 2.0 * (block @ a_acc.T) + a_sq_acc[None, :]
            nearest[start:stop], labels[start:stop] = d2.min(dim=1)
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels, minlength=k)
        self.members = [m for m in torch.split(order, counts.tolist()) if m.numel()]
        keep = counts > 0
        self.anchors, self.anchor_sq = self.anchors[keep], self.anchor_sq[keep]
        radius_sq = torch.zeros(k, dtype=torch.float64, device=device)
        radius_sq.scatter_reduce_(0, labels, nearest.double().clamp(min=0.0), reduce="amax")
        radius_sq = radius_sq[keep]
        self.sq_max = float(pool.sq.max().item())
        slack = REL_TOL * (self.sq_max + self.anchor_sq)
        self.radius = torch.sqrt(radius_sq + slack)
        self.gmax = torch.full((len(self.members),), float("inf"), dtype=torch.float64, device=device)
        self.rows_read = 0

    def refresh(self, min_dist: torch.Tensor) -> None:
        """Recompute every group's ``max(min_dist)`` (after a full pass)."""
        for g, idx in enumerate(self.members):
            self.gmax[g] = float(min_dist[idx].max().item())

    def update(self, min_dist: torch.Tensor, index: int) -> None:
        """``min_dist = min(min_dist, |x - x[index]|^2)`` reading only the groups the centre can reach."""
        self.lower(min_dist, self.pool.row(index), self.pool.sq[index])

    def lower(self, min_dist: torch.Tensor, centre: torch.Tensor, centre_sq: torch.Tensor) -> None:
        """:meth:`update` for a centre given as its stored row and squared norm (possibly from another shard)."""
        pool = self.pool
        c64 = centre.double()
        c_sq = float(c64 @ c64)
        gap_sq = (self.anchor_sq - 2.0 * (self.anchors @ c64) + c_sq).clamp(min=0.0)
        lower = (torch.sqrt(gap_sq) - self.radius).clamp(min=0.0)
        slack = REL_TOL * (self.sq_max + c_sq)
        reach = torch.nonzero(lower**2 <= self.gmax + slack).flatten().tolist()
        rows = sum(self.members[g].numel() for g in reach)
        if rows * 2 > pool.n:  # most of the pool: one sequential pass is cheaper than gathers
            pool.lower_min_sqdist(min_dist, centre, centre_sq)
            self.refresh(min_dist)
            self.rows_read += pool.n
            return
        self.rows_read += rows
        minus_2c = (-2.0 * centre).to(pool.acc)
        for g in reach:
            idx = self.members[g]
            for part in torch.split(idx, pool.chunk_size):
                dist = pool.sqdist_rows(part, minus_2c, centre_sq)  # the full pass's own formula, row by row
                min_dist[part] = torch.minimum(min_dist[part], dist)
            self.gmax[g] = float(min_dist[idx].max().item())


def kcenter_bounded(
    pool: ChunkedPool, min_dist: torch.Tensor, n_picks: int, first: int | None = None,
    groups: BoundedPool | None = None,
) -> np.ndarray:
    """:func:`~labelsieve.strategies.distance.kcenter_greedy` with exact group pruning (same picks)."""
    groups = BoundedPool(pool) if groups is None else groups
    groups.refresh(min_dist)
    return kcenter_greedy(pool, min_dist, n_picks, first, update=groups.update)
