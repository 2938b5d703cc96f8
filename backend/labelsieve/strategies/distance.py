"""Chunked distance kernels for the batch-aware strategies (core-set, BADGE).

Nothing here ever allocates an ``n x n`` matrix: the pool is stored once (optionally in a lower
precision or randomly projected), and every pass over it goes chunk by chunk. Greedy selection
keeps one ``min_dist[n]`` vector and updates it after each pick with
``|x - c|^2 = |x|^2 - 2 x.c + |c|^2``, i.e. one matrix-vector product over the pool per pick, so its
speed is bounded by memory bandwidth (pool bytes x picks / seconds).

Determinism across layouts: every value that decides a pick (a squared norm, a distance, a BADGE
``d2``) is computed row by row (:func:`row_dots`: ``einsum`` over each row, whose result depends only
on that row and the centre), never by BLAS GEMV/GEMM, whose tail rows take other code paths and give
other last bits depending on how many rows a call gets and where a row sits (measured: a 3 000-row
pool split 750/750/750/750 moved row 746's distance by one ulp on a SkylakeX OpenBLAS kernel). So
the single-process strategies and every sharding of the pool (local or on Ray) compute bit-identical
values on one machine, and exact ties always go to the lowest index. GEMM is used only for
candidate search (:meth:`ChunkedPool.min_sqdist_to`), whose candidates are then recomputed row by row.
On CUDA the same row-wise formulas run as torch reductions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from labelsieve.devices import resolve_device as round_device

PRECISIONS = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
NUMPY_DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32), "float16": np.dtype(np.float16)}
DEFAULT_CHUNK = 65_536
#: (stored, compute) dtypes whose host passes run on numpy: the same, or an exact widening numpy can do
HOST_WIDENING = {(torch.float64, torch.float64), (torch.float32, torch.float32), (torch.float16, torch.float32),
                 (torch.float16, torch.float64), (torch.float32, torch.float64)}
#: elements of one ``rows x centres`` block in :meth:`ChunkedPool.min_sqdist_to` (4 Mi float32 = 16 MiB per block)
PAIR_BLOCK = 1 << 22


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is the round's device (:func:`labelsieve.devices.current_device`: the project's ``device``
    setting, itself CUDA when available if ``auto``); anything else is passed to :class:`torch.device`."""
    if device == "auto":
        return round_device()
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r} (use 'auto', 'cpu' or 'cuda')") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available")
    return resolved


def storage_dtype(precision: str) -> torch.dtype:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return PRECISIONS[precision]


def compute_dtype(precision: str) -> torch.dtype:
    """Accumulation dtype: float64 stays float64, everything else accumulates in float32."""
    return torch.float64 if precision == "float64" else torch.float32


@contextmanager
def pinned_threads(threads: int | None) -> Iterator[None]:
    """Pin torch and the numpy BLAS to ``threads`` for the duration (None: keep torch's setting)."""
    n = max(1, int(threads)) if threads is not None else torch.get_num_threads()
    before = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        threadpool_limits = None
    if before != n:
        torch.set_num_threads(n)
    try:
        if threadpool_limits is None:  # pragma: no cover
            yield
        else:
            with threadpool_limits(limits=n, user_api="blas"):
                yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def row_dots(rows: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """``rows @ vector`` computed row by row (each value independent of the other rows; see the module doc)."""
    if rows.device.type == "cpu":
        out = np.einsum("ij,j->i", np.ascontiguousarray(rows.numpy()), np.ascontiguousarray(vector.numpy()))
        return torch.from_numpy(np.asarray(out, dtype=rows.numpy().dtype))
    return (rows * vector).sum(dim=1)


def paired_dots(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``(left * right).sum(1)`` row by row, for rows paired up by index (same determinism as :func:`row_dots`)."""
    if left.device.type == "cpu":
        out = np.einsum("ij,ij->i", np.ascontiguousarray(left.numpy()), np.ascontiguousarray(right.numpy()))
        return torch.from_numpy(np.asarray(out, dtype=left.numpy().dtype))
    return (left * right).sum(dim=1)


def candidate_slack(dim: int, dtype: torch.dtype) -> float:
    """A bound on GEMM's error for ``|x|^2 - 2 x.c + |c|^2`` relative to ``|x|^2 + |c|^2`` (with margin)."""
    return 4.0 * (dim + 4) * float(torch.finfo(dtype).eps)


def gaussian_projection(d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded ``(d, k)`` Gaussian random projection (Johnson-Lindenstrauss), scaled by 1/sqrt(k)."""
    if k <= 0:
        raise ValueError(f"projection_dim must be a positive integer, got {k}")
    return (rng.standard_normal((d, k)) / np.sqrt(k)).astype(np.float32)


def exactly_held(given: np.dtype, precision: str) -> bool:
    """Whether every value of dtype ``given`` is exactly a value of ``precision`` (float16 in float32, ...)."""
    target = NUMPY_DTYPES.get(precision)
    return target is not None and given.kind == "f" and np.can_cast(given, target, casting="safe")


class ChunkedPool:
    """The pool as one tensor in the storage precision, with squared norms computed from the stored values.

    A C-contiguous CPU array whose dtype the precision holds exactly (float16 rows for ``float32``) is kept as
    given, without a copy: each pass widens one chunk at a time, so the values, and the picks, are those of the
    widened pool while memory holds only the given bytes (a float16 pool: half of a float32 copy).
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        precision: str = "float32",
        device: str = "auto",
        chunk_size: int = DEFAULT_CHUNK,
        projection: np.ndarray | None = None,
    ) -> None:
        if data.ndim != 2:
            raise ValueError(f"embeddings must be a 2-d array, got shape {data.shape}")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self.device = resolve_device(device)
        self.dtype = storage_dtype(precision)
        self.acc = compute_dtype(precision)
        self.chunk_size = int(chunk_size)
        n = data.shape[0]
        width = data.shape[1] if projection is None else projection.shape[1]
        shared = projection is None and self.device.type == "cpu" and data.flags.c_contiguous
        shared = shared and exactly_held(data.dtype, precision)
        if shared:  # the caller's array holds the storage precision's values exactly: no copy
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # read-only arrays: never written here
                self.x = torch.from_numpy(data)
        else:
            self.x = torch.empty((n, width), dtype=self.dtype, device=self.device)
        self.sq = torch.empty(n, dtype=self.acc, device=self.device)
        proj = None if projection is None else torch.from_numpy(projection).to(self.device, self.acc)
        for start, stop in self.chunks():
            if shared:
                stored = self.x[start:stop]
            else:
                block = torch.from_numpy(np.ascontiguousarray(data[start:stop])).to(self.device, self.acc)
                stored = (block if proj is None else block @ proj).to(self.dtype)
                self.x[start:stop] = stored
            as_acc = stored.to(self.acc)
            self.sq[start:stop] = paired_dots(as_acc, as_acc)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def nbytes(self) -> int:
        return self.x.numel() * self.x.element_size()

    def chunks(self) -> Iterator[tuple[int, int]]:
        for start in range(0, self.n, self.chunk_size):
            yield start, min(start + self.chunk_size, self.n)

    def _block(self, start: int, stop: int) -> torch.Tensor:
        block = self.x[start:stop]
        return block if block.dtype == self.acc or self.device.type == "cuda" else block.to(self.acc)

    def row(self, index: int) -> torch.Tensor:
        return self.x[index].to(self.acc)

    def dots(self, vector: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """``x[start:stop] @ vector`` accumulated in the compute dtype."""
        block = self._block(start, stop).to(self.acc)
        return row_dots(block, vector.to(self.acc))

    @property
    def on_host(self) -> bool:
        """Stored on the CPU in the compute dtype or exactly within it (float16 rows, float32 compute): passes run
        on numpy arrays chunk by chunk (narrower rows widened into one reused chunk buffer), in-place updates."""
        return self.device.type == "cpu" and (self.x.dtype, self.acc) in HOST_WIDENING

    def host_chunks(self) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(start, stop, rows)`` over the pool (``on_host`` only): ``rows`` in the compute dtype, a view of the
        stored rows or, for narrower storage, their exact widening into one buffer reused by every chunk."""
        x = self.x.numpy()
        acc = self.sq.numpy().dtype
        wide = None if x.dtype == acc else np.empty((min(self.chunk_size, self.n), x.shape[1]), dtype=acc)
        for start, stop in self.chunks():
            if wide is None:
                yield start, stop, x[start:stop]
            else:
                rows = wide[: stop - start]
                np.copyto(rows, x[start:stop])
                yield start, stop, rows

    def update_min_sqdist(self, min_dist: torch.Tensor, index: int) -> None:
        """``min_dist = min(min_dist, |x - x[index]|^2)``, one chunked GEMV over the pool."""
        self.lower_min_sqdist(min_dist, self.row(index), self.sq[index])

    def lower_min_sqdist(self, min_dist: torch.Tensor, centre: torch.Tensor, centre_sq: torch.Tensor) -> None:
        """``min_dist = min(min_dist, |x - centre|^2)`` for a centre given as its stored row and squared norm
        (from this pool or from another shard of the same pool: the arithmetic is the same either way)."""
        minus_2c = (-2.0 * centre).to(self.acc)
        if self.on_host and min_dist.is_contiguous():
            sq, out = self.sq.numpy(), min_dist.numpy()
            m2c, c_sq = np.ascontiguousarray(minus_2c.numpy()), centre_sq.numpy()
            buf = np.empty(min(self.chunk_size, self.n), dtype=sq.dtype)
            for start, stop, rows in self.host_chunks():
                dist = buf[: stop - start]
                np.einsum("ij,j->i", rows, m2c, out=dist)  # row by row, as row_dots
                dist += sq[start:stop]
                dist += c_sq
                np.minimum(out[start:stop], dist, out=out[start:stop])
            return
        for start, stop in self.chunks():
            dist = self.sqdist_rows(torch.arange(start, stop, device=self.device), minus_2c, centre_sq)
            torch.minimum(min_dist[start:stop], dist, out=min_dist[start:stop])

    def sqdist_rows(self, rows: torch.Tensor, minus_2c: torch.Tensor, centre_sq: torch.Tensor) -> torch.Tensor:
        """``|x - c|^2`` for the given rows as ``(-2 x.c + |x|^2) + |c|^2``, row by row: the one formula every
        path uses (full passes, pruned groups, shards), so a row's distance never depends on the path."""
        block = self.x.index_select(0, rows).to(self.acc)
        dist = row_dots(block, minus_2c.to(self.acc))
        dist += self.sq[rows]
        dist += centre_sq
        return dist

    def min_sqdist_to(self, others: np.ndarray, projection: np.ndarray | None = None) -> torch.Tensor:
        """Squared distance of every pool item to its nearest row of ``others``, in blocks of at most
        :data:`PAIR_BLOCK` (pool rows x centres) pairs: memory beyond the pool and the result stays a few MiB."""
        min_dist = torch.full((self.n,), float("inf"), dtype=self.acc, device=self.device)
        if others.shape[0] == 0:
            return min_dist
        proj = None if projection is None else torch.from_numpy(projection).to(self.device, self.acc)
        per_block = max(1, min(self.chunk_size, PAIR_BLOCK // 256))  # centres per block
        for o_start in range(0, others.shape[0], per_block):
            block = torch.from_numpy(np.ascontiguousarray(others[o_start:o_start + per_block]))
            centres = block.to(self.device, self.acc)
            if proj is not None:
                centres = centres @ proj
            centres = centres.to(self.dtype).to(self.acc)  # same rounding as the stored pool
            centres_sq = paired_dots(centres, centres)
            rows_per = max(1, min(self.chunk_size, PAIR_BLOCK // centres.shape[0]))
            for start in range(0, self.n, rows_per):
                stop = min(start + rows_per, self.n)
                pool_block = self._block(start, stop).to(self.acc)
                approx = pool_block @ centres.T  # nominates candidates only (see _refine): in place from here
                approx.mul_(-2.0).add_(self.sq[start:stop, None]).add_(centres_sq[None, :])
                exact = self._refine(pool_block, self.sq[start:stop], centres, centres_sq, approx)
                torch.minimum(min_dist[start:stop], exact, out=min_dist[start:stop])
        return min_dist.clamp_(min=0.0)

    def _refine(self, block: torch.Tensor, block_sq: torch.Tensor, centres: torch.Tensor, centres_sq: torch.Tensor,
                approx: torch.Tensor) -> torch.Tensor:
        """Each row's minimum over ``centres``, exact: GEMM's ``approx`` only nominates the centres that could be
        the nearest (within its error bound), and those pairs are recomputed row by row."""
        best = approx.min(dim=1).values
        slack = candidate_slack(block.shape[1], self.acc) * (block_sq + centres_sq.max())
        rows, cols = torch.nonzero(approx <= (best + 2.0 * slack)[:, None], as_tuple=True)
        minus_2c = -2.0 * centres
        exact = torch.full((block.shape[0],), float("inf"), dtype=self.acc, device=self.device)
        step = max(1, (1 << 22) // max(1, block.shape[1]))  # pairs per gather: bounded memory
        for start in range(0, rows.shape[0], step):
            r, c = rows[start:start + step], cols[start:start + step]
            dist = paired_dots(block.index_select(0, r), minus_2c.index_select(0, c))
            dist += block_sq[r]
            dist += centres_sq[c]
            exact.scatter_reduce_(0, r, dist, reduce="amin")
        return exact


def kcenter_greedy(pool: ChunkedPool, min_dist: torch.Tensor, n_picks: int, first: int | None = None,
                   update: Callable[[torch.Tensor, int], None] | None = None) -> np.ndarray:
    """Greedy k-center: repeatedly take the item farthest from every centre so far.

    ``min_dist`` holds each item's squared distance to the nearest existing centre (``inf`` when
    there is none, then ``first`` must be given); it is updated in place. Ties go to the lowest index.
    ``update(min_dist, index)`` lowers ``min_dist`` for a new centre (default: one full pass over the pool).
    """
    update = pool.update_min_sqdist if update is None else update
    picks: list[int] = []
    taken = float("-inf")
    for step in range(min(n_picks, pool.n)):
        if step == 0 and first is not None:
            index = int(first)
        else:
            index = int(torch.argmax(min_dist).item())
            if min_dist[index].item() == taken:
                break
        picks.append(index)
        update(min_dist, index)
        min_dist[index] = taken
    return np.asarray(picks, dtype=np.int64)
