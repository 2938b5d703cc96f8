"""One worker's slice of the pool held in memory for the greedy strategies (core-set, BADGE).

A shard is a run of consecutive units. It keeps its rows' vectors (stored exactly as
:class:`~labelsieve.strategies.distance.ChunkedPool` stores them), their ids and positions, and the
per-row state of the greedy loop (``min_dist`` for core-set, ``d2`` for BADGE). Every method takes
``step``, the number of picks the driver has applied so far: a shard rebuilt after its worker died
answers :data:`STALE`, and the driver replays the picks into it (:mod:`.greedy`).
The arithmetic on each row is the single-process strategies' own, so picks are identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from labelsieve.pool.model import ModelBundle, block_outputs, load_learner
from labelsieve.pool.source import (
    EMBEDDING_COLUMN,
    ID_COLUMN,
    Unit,
    embedding_matrix,
    id_array,
    kept_mask,
    read_unit,
    stored_dtype,
)
from labelsieve.strategies.badge import gradient_factor, host_lower
from labelsieve.strategies.distance import DEFAULT_CHUNK, ChunkedPool, paired_dots
from labelsieve.strategies.kcenter_bounds import BoundedPool

STALE = "stale"


@dataclass(frozen=True)
class ShardSpec:
    """What a worker needs to (re)build its shard: picklable, small."""

    units: tuple[Unit, ...]
    dim: int
    mode: str  # "coreset" | "badge"
    model: ModelBundle | None = None
    exclude: pa.Array | None = None
    chunk_size: int = DEFAULT_CHUNK
    device: str = "cpu"
    prune: bool = False


@dataclass(frozen=True)
class Best:
    """A shard's candidate for the next pick: value, local index and what others need to update with it."""

    value: float
    local: int
    position: int
    id: Any
    centre: np.ndarray | None = None  # the stored row (core-set) / h row (BADGE), compute dtype
    extra: np.ndarray | None = None  # BADGE: the a row
    centre_sq: float = 0.0


@dataclass
class Shard:
    spec: ShardSpec
    pool: ChunkedPool
    ids: np.ndarray
    positions: np.ndarray
    factor: torch.Tensor | None = None  # BADGE: a = p - onehot(argmax p), compute dtype
    grad_sq: torch.Tensor | None = None
    state: torch.Tensor | None = None  # min_dist (core-set) or d2 (BADGE)
    picked: torch.Tensor | None = None
    groups: BoundedPool | None = None
    cumulative: torch.Tensor | None = None
    applied: int = -1  # picks applied since the loop started; -1: not started (fresh or rebuilt)
    rows_read: list[int] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.pool.n

    # ------------------------------------------------------------------ core-set
    def coreset_start(self, labeled: np.ndarray, prune: bool) -> Best:
        self.state = self.pool.min_sqdist_to(labeled)
        self.groups = BoundedPool(self.pool) if prune and self.n > 0 else None
        if self.groups is not None:
            self.groups.refresh(self.state)
        self.applied = 0
        return self.coreset_best()

    def coreset_best(self) -> Best:
        if self.n == 0:
            return Best(float("-inf"), -1, -1, None)
        local = int(torch.argmax(self.state).item())  # first maximum: ties go to the lowest index
        return self._best(float(self.state[local].item()), local)

    def _best(self, value: float, local: int) -> Best:
        return Best(value, local, int(self.positions[local]), self.ids[local].item() if self.ids.dtype != object
                    else self.ids[local], self.pool.row(local).cpu().numpy().copy(), None,
                    float(self.pool.sq[local].item()))

    def centre_at(self, step: int, local: int) -> Best | str:
        if step != self.applied:
            return STALE
        best = self._best(float(self.state[local].item()), local)  # the pick's distance before it was taken
        if self.factor is None:
            return best
        return Best(best.value, local, best.position, best.id, best.centre, self.factor[local].numpy().copy(),
                    float(self.grad_sq[local].item()))

    def coreset_add(self, step: int, centre: np.ndarray, centre_sq: float, owned: int) -> Best | str:
        if step != self.applied:
            return STALE
        if self.n:
            device, acc = self.pool.device, self.pool.acc
            c, c_sq = torch.from_numpy(centre).to(device, acc), torch.tensor(centre_sq, dtype=acc, device=device)
            if self.groups is None:
                self.pool.lower_min_sqdist(self.state, c, c_sq)
            else:
                self.groups.lower(self.state, c, c_sq)
            if owned >= 0:
                self.state[owned] = float("-inf")
        self.applied += 1
        return self.coreset_best()

    def replay(self, kind: str, start: tuple[Any, ...], history: list[tuple[np.ndarray, np.ndarray | None, float,
                                                                            int, int]], me: int) -> None:
        """Rebuild the loop state after a restart: start again, then apply every pick made so far in order."""
        if kind == "coreset":
            self.coreset_start(*start)
            for step, (centre, _extra, sq, owner, local) in enumerate(history):
                self.coreset_add(step, centre, sq, local if owner == me else -1)
            return
        self.badge_start()
        for step, (centre, extra, sq, owner, local) in enumerate(history):
            self.badge_add(step, centre, extra, sq, local if owner == me else -1)

    # ------------------------------------------------------------------ BADGE
    def badge_start(self) -> Best:
        acc = self.pool.acc
        self.grad_sq = paired_dots(self.factor, self.factor) * self.pool.sq  # as badge_kmeanspp
        self.state = torch.full((self.n,), float("inf"), dtype=acc)
        self.picked = torch.zeros(self.n, dtype=torch.bool)
        self.cumulative = None
        self.applied = 0
        if self.n == 0:
            return Best(float("-inf"), -1, -1, None)
        local = int(torch.argmax(self.grad_sq).item())
        return Best(float(self.grad_sq[local].item()), local, int(self.positions[local]), None)

    def badge_add(self, step: int, centre_h: np.ndarray, centre_a: np.ndarray, centre_sq: float, owned: int
                  ) -> str | None:
        if step != self.applied:
            return STALE
        if self.n:
            acc = self.pool.acc
            host_lower(self.pool, self.factor, self.grad_sq, self.state, torch.from_numpy(centre_h).to(acc),
                       torch.from_numpy(centre_a).to(acc), torch.tensor(centre_sq, dtype=acc))
            if owned >= 0:
                self.state[owned] = 0.0
                self.picked[owned] = True
        self.applied += 1
        self.cumulative = None
        return None

    def badge_scan(self, step: int, carry: float) -> float | str:
        """Continue the pool's float64 running sum of ``d2`` from ``carry`` (exactly as one ``cumsum`` would)."""
        if step != self.applied:
            return STALE
        if self.n == 0:
            return carry
        joined = torch.cat([torch.tensor([carry], dtype=torch.float64), self.state.double()])
        self.cumulative = torch.cumsum(joined, dim=0)[1:]
        return float(self.cumulative[-1].item())

    def badge_locate(self, step: int, target: float) -> int | str:
        if step != self.applied or self.cumulative is None:
            return STALE
        index = int(torch.searchsorted(self.cumulative, torch.tensor([target], dtype=torch.float64),
                                       right=True).item())
        return min(index, self.n - 1)

    def unpicked(self, step: int, rank: int | None = None) -> int | str:
        """How many rows are not picked yet, or (with ``rank``) the local index of the ``rank``-th of them."""
        if step != self.applied:
            return STALE
        rest = torch.nonzero(~self.picked).flatten()
        return int(rest.shape[0]) if rank is None else int(rest[rank].item())


def load_shard(spec: ShardSpec) -> Shard:
    """Read the shard's units one at a time into one preallocated matrix (peak: shard + one unit). Core-set keeps
    the rows as stored (float16 Parquet stays float16: half the bytes, the same float32 arithmetic per chunk)."""
    learner = load_learner(spec.model) if spec.model is not None else None
    total = sum(u.rows for u in spec.units)
    vectors: np.ndarray | None = None
    factors: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    filled = 0
    for unit in spec.units:
        table = read_unit(unit, [ID_COLUMN, EMBEDDING_COLUMN])
        kept = kept_mask(table, spec.exclude)
        embed = learner is not None and spec.mode == "badge"
        rows = embedding_matrix(table, spec.dim, np.float32 if embed else stored_dtype(table))[kept]
        if embed:
            probas, rows = block_outputs(learner, rows, probas=True, embed=True)
            factors.append(gradient_factor(probas))
        if vectors is None:  # the first unit fixes the width (the learner's embedding) and the dtype
            vectors = np.empty((total, rows.shape[1]), dtype=rows.dtype)
        elif not np.can_cast(rows.dtype, vectors.dtype, casting="safe"):  # a float32 file after float16 ones
            vectors = vectors.astype(rows.dtype)
        vectors[filled:filled + rows.shape[0]] = rows
        filled += rows.shape[0]
        ids.append(id_array(table)[kept])
        positions.append(unit.offset + np.flatnonzero(kept))
    if vectors is None:
        vectors = np.empty((0, spec.dim), dtype=np.float32)
    pool = ChunkedPool(vectors[:filled], precision="float32", device=spec.device, chunk_size=spec.chunk_size)
    shard = Shard(spec=spec, pool=pool, ids=np.concatenate(ids) if ids else np.zeros(0, np.int64),
                  positions=np.concatenate(positions).astype(np.int64) if positions else np.zeros(0, np.int64))
    if spec.mode == "badge":
        if learner is None:
            raise ValueError("BADGE needs a trained model: label some items first (or use coreset)")
        factor = np.concatenate(factors) if factors else np.zeros((0, 1))
        shard.factor = torch.from_numpy(np.ascontiguousarray(factor)).to(pool.device, pool.acc)
    return shard
