"""Core-set selection by greedy k-center (Sener & Savarese, ICLR 2018).

The batch covers the pool: each pick is the pool item farthest (Euclidean, in the model's
embedding space) from every labelled item and every item picked before it. The 2-approximation
greedy reads the whole pool once per pick, so it runs in chunks with one ``min_dist[n]`` vector
(no ``n x n`` matrix), and offers three ways to read fewer bytes: lower-precision storage, a seeded
Gaussian random projection, and an explicit pool subsample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from labelsieve.strategies.base import ANY_TASK_TYPE, PoolContext, QueryStrategy
from labelsieve.strategies.distance import (
    DEFAULT_CHUNK,
    ChunkedPool,
    gaussian_projection,
    kcenter_greedy,
    pinned_threads,
    storage_dtype,
)
from labelsieve.strategies.kcenter_bounds import MIN_PICKS, MIN_ROWS, kcenter_bounded


def _projection_of(ctx: PoolContext) -> Callable[[int, int], np.ndarray]:
    """One Gaussian projection per context and shape, drawn from ``ctx.rng`` the first time it is needed."""
    return lambda d, k: ctx.drawn_once(("projection", d, k), lambda rng: gaussian_projection(d, k, rng))


@dataclass(frozen=True)
class PreparedPool:
    pool: ChunkedPool
    members: np.ndarray  # indices into ctx's pool of the rows of ``pool``
    projection: np.ndarray | None


def subsample_size(subsample: float | int | None, n: int) -> int:
    if subsample is None:
        return n
    if isinstance(subsample, float) and 0.0 < subsample <= 1.0:
        return max(1, int(round(subsample * n)))
    if isinstance(subsample, int) and not isinstance(subsample, bool) and subsample > 0:
        return min(n, subsample)
    raise ValueError(f"subsample must be a fraction in (0, 1] or a positive item count, got {subsample!r}")


def prepare_pool(
    embeddings: np.ndarray,
    rng: np.random.Generator,
    *,
    precision: str,
    projection_dim: int | None,
    subsample: float | int | None,
    chunk_size: int,
    device: str,
    draw_projection: Callable[[int, int], np.ndarray] | None = None,
) -> PreparedPool:
    """Project (first draw from ``rng``), subsample (second draw) and store the pool for chunked passes.

    ``draw_projection(d, k)`` supplies the projection instead of drawing it from ``rng`` (a context's
    :meth:`~labelsieve.strategies.base.PoolContext.drawn_once`, so ``score`` and ``select`` agree).
    """
    storage_dtype(precision)  # validate before any work
    n, d = embeddings.shape
    projection = None
    if projection_dim is not None:
        draw = draw_projection or (lambda width, k: gaussian_projection(width, k, rng))
        projection = draw(d, int(projection_dim))
    size = subsample_size(subsample, n)
    members = np.arange(n) if size >= n else np.sort(rng.choice(n, size=size, replace=False))
    rows = embeddings if size >= n else embeddings[members]
    pool = ChunkedPool(rows, precision=precision, device=device, chunk_size=chunk_size, projection=projection)
    return PreparedPool(pool=pool, members=members, projection=projection)


class CoreSet(QueryStrategy):
    """Greedy k-center core-set over the model's embeddings.

    Parameters
    ----------
    precision:
        Storage precision of the pool: ``"float32"`` (default), ``"float64"`` (exact reference),
        ``"float16"`` or ``"bfloat16"`` (half the bytes per pass; accumulation stays float32).
    projection_dim:
        If set, distances are computed after a seeded Gaussian random projection to this many dims.
    subsample:
        If set, only this many items (int) or this fraction (float) of the pool, drawn with
        ``ctx.rng``, are candidates and are covered.
    chunk_size:
        Rows per chunk of every pass over the pool.
    device:
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
    threads:
        Threads for the greedy loop (None: the process's torch setting).
    prune:
        Exact pruning (triangle inequality over k-means groups of the pool, :mod:`.kcenter_bounds`):
        a new centre only reads the groups it can get closer to. Same picks; far fewer bytes read
        when the embeddings cluster. Pools under 4096 items and batches under 32 take full passes.
    """

    task_types = (ANY_TASK_TYPE,)  # reads embeddings (or nothing) only: any task type

    batch_aware: ClassVar[bool] = True
    category: ClassVar[str] = "diversity"

    def __init__(
        self,
        precision: str = "float32",
        projection_dim: int | None = None,
        subsample: float | int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        device: str = "auto",
        threads: int | None = None,
        prune: bool = True,
    ) -> None:
        self.precision = precision
        self.projection_dim = projection_dim
        self.subsample = subsample
        self.chunk_size = chunk_size
        self.device = device
        self.threads = threads
        self.prune = prune

    def _prepare(self, ctx: PoolContext) -> PreparedPool:
        return prepare_pool(
            np.asarray(ctx.embeddings),
            ctx.rng,
            precision=self.precision,
            projection_dim=self.projection_dim,
            subsample=self.subsample,
            chunk_size=self.chunk_size,
            device=self.device,
            draw_projection=_projection_of(ctx),
        )

    def score(self, ctx: PoolContext) -> np.ndarray:
        """Euclidean distance to the nearest labelled embedding (0 for all when nothing is labelled)."""
        if ctx.n_pool == 0:
            return np.zeros(0)
        labeled = np.asarray(ctx.labeled_embeddings)
        if labeled.shape[0] == 0:
            return np.zeros(ctx.n_pool)
        with pinned_threads(self.threads), torch.no_grad():
            prepared = prepare_pool(
                np.asarray(ctx.embeddings),
                ctx.rng,
                precision=self.precision,
                projection_dim=self.projection_dim,
                subsample=None,
                chunk_size=self.chunk_size,
                device=self.device,
                draw_projection=_projection_of(ctx),
            )
            sqdist = prepared.pool.min_sqdist_to(labeled, prepared.projection)
        return np.sqrt(sqdist.double().cpu().numpy())

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        """k-center greedy from the labelled set (or from one ``ctx.rng``-drawn item when none is labelled)."""
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        labeled = np.asarray(ctx.labeled_embeddings)
        with pinned_threads(self.threads), torch.no_grad():
            prepared = self._prepare(ctx)
            min_dist = prepared.pool.min_sqdist_to(labeled, prepared.projection)
            first = None if labeled.shape[0] else int(ctx.rng.integers(prepared.pool.n))
            worth = self.prune and prepared.pool.n >= MIN_ROWS and n >= MIN_PICKS  # set-up ~ a few full passes
            greedy = kcenter_bounded if worth else kcenter_greedy
            picks = greedy(prepared.pool, min_dist, n, first=first)
        return prepared.members[picks].astype(np.int64)
