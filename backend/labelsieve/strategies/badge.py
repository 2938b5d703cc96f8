"""BADGE: k-means++ seeding on gradient embeddings (Ash et al., ICLR 2020).

The gradient embedding of item ``i`` is ``g_i = a_i (x) h_i`` with ``a_i = p_i - onehot(argmax p_i)``
(the last-layer loss gradient under the model's own hard label) and ``h_i`` the pool embedding.
Its length grows with uncertainty and its direction carries diversity. The ``n x (C*d)`` matrix is
never built: ``<g_i, g_j> = <a_i, a_j> <h_i, h_j>`` and ``|g_i|^2 = |a_i|^2 |h_i|^2``, so every
k-means++ (D^2) step costs one chunked pass over ``h`` and one over ``a``, computed row by row
(:func:`~labelsieve.strategies.distance.row_dots`) so a shard computes the same bits as the whole pool.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from labelsieve.strategies.base import PoolContext, QueryStrategy
from labelsieve.strategies.distance import (
    DEFAULT_CHUNK,
    ChunkedPool,
    gaussian_projection,
    paired_dots,
    pinned_threads,
    row_dots,
)


def gradient_factor(probas: np.ndarray) -> np.ndarray:
    """``a = p - onehot(argmax p)``: the cross-entropy gradient w.r.t. the logits under the predicted label."""
    factor = np.array(probas, dtype=np.float64, copy=True)
    factor[np.arange(factor.shape[0]), factor.argmax(axis=1)] -= 1.0
    return factor


def draw_proportional(weights: torch.Tensor, rng: np.random.Generator) -> int | None:
    """An index drawn with probability proportional to ``weights`` (None when they sum to 0)."""
    cumulative = torch.cumsum(weights.double(), dim=0)
    total = float(cumulative[-1].item())
    if not total > 0.0:
        return None
    target = torch.tensor([rng.random() * total], dtype=torch.float64, device=cumulative.device)
    index = int(torch.searchsorted(cumulative, target, right=True).item())
    return min(index, weights.shape[0] - 1)


def host_update(hidden: ChunkedPool, a: torch.Tensor, grad_sq: torch.Tensor, d2: torch.Tensor, index: int) -> None:
    """The D^2 update on numpy views of CPU tensors: two GEMVs per chunk, in-place, no temporaries."""
    host_lower(hidden, a, grad_sq, d2, hidden.row(index), a[index], grad_sq[index])


def host_lower(hidden: ChunkedPool, a: torch.Tensor, grad_sq: torch.Tensor, d2: torch.Tensor,
               centre_h: torch.Tensor, centre_a: torch.Tensor, centre_sq: torch.Tensor) -> None:
    """:func:`host_update` for a centre given as its rows (``h``, ``a``) and ``|g|^2``, possibly from another shard."""
    a_np, g_sq, out = a.numpy(), grad_sq.numpy(), d2.numpy()
    minus_2h, centre_a, centre_sq = (-2.0 * centre_h).numpy(), centre_a.numpy(), centre_sq.numpy()
    minus_2h, centre_a = np.ascontiguousarray(minus_2h), np.ascontiguousarray(centre_a)
    inner = np.empty(min(hidden.chunk_size, hidden.n), dtype=out.dtype)
    other = np.empty_like(inner)
    for start, stop, h in hidden.host_chunks():
        dist, factor = inner[: stop - start], other[: stop - start]
        np.einsum("ij,j->i", h, minus_2h, out=dist)  # row by row (distance.row_dots), never GEMV
        np.einsum("ij,j->i", a_np[start:stop], centre_a, out=factor)
        dist *= factor
        dist += g_sq[start:stop]
        dist += centre_sq
        np.maximum(dist, 0.0, out=dist)
        np.minimum(out[start:stop], dist, out=out[start:stop])


def badge_kmeanspp(
    hidden: ChunkedPool, factor: np.ndarray, n_picks: int, rng: np.random.Generator
) -> np.ndarray:
    """k-means++ seeding on ``a (x) h``: the largest gradient first, then D^2 sampling with ``rng``."""
    acc = hidden.acc
    a = torch.from_numpy(np.ascontiguousarray(factor)).to(hidden.device, acc)
    grad_sq = paired_dots(a, a) * hidden.sq
    d2 = torch.full((hidden.n,), float("inf"), dtype=acc, device=hidden.device)
    picked = torch.zeros(hidden.n, dtype=torch.bool, device=hidden.device)
    picks: list[int] = []
    for step in range(min(n_picks, hidden.n)):
        if step == 0:
            index = int(torch.argmax(grad_sq).item())
            if not grad_sq[index].item() > 0.0:
                index = int(rng.integers(hidden.n))
        else:
            drawn = draw_proportional(d2, rng)
            if drawn is None:  # every remaining item coincides with a centre: uniform among the rest
                rest = torch.nonzero(~picked).flatten().cpu().numpy()
                drawn = int(rest[int(rng.integers(rest.shape[0]))])
            index = drawn
        picks.append(index)
        picked[index] = True
        centre_h, centre_a, centre_sq = hidden.row(index), a[index], grad_sq[index]
        if hidden.on_host:
            host_update(hidden, a, grad_sq, d2, index)
            d2[index] = 0.0
            continue
        minus_2h = -2.0 * centre_h
        for start, stop in hidden.chunks():
            dist = hidden.dots(minus_2h, start, stop) * row_dots(a[start:stop], centre_a)
            dist += grad_sq[start:stop]
            dist += centre_sq
            dist.clamp_(min=0.0)
            torch.minimum(d2[start:stop], dist, out=d2[start:stop])
        d2[index] = 0.0
    return np.asarray(picks, dtype=np.int64)


class Badge(QueryStrategy):
    """BADGE batch selection: uncertain (long gradients) and diverse (k-means++ spread) at once.

    Parameters
    ----------
    precision:
        Storage precision of the embeddings: ``"float32"`` (default), ``"float64"``, ``"float16"``
        or ``"bfloat16"``; accumulation stays at least float32.
    projection_dim:
        If set, ``h`` goes through a seeded Gaussian random projection to this many dims (drawn
        from ``ctx.rng`` before the sampling), which cuts the bytes read per pick.
    chunk_size:
        Rows per chunk of every pass over the pool.
    device:
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
    threads:
        Threads for the sampling loop (None: the process's torch setting).
    """

    batch_aware: ClassVar[bool] = True
    category: ClassVar[str] = "hybrid"

    def __init__(
        self,
        precision: str = "float32",
        projection_dim: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        device: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.precision = precision
        self.projection_dim = projection_dim
        self.chunk_size = chunk_size
        self.device = device
        self.threads = threads

    def score(self, ctx: PoolContext) -> np.ndarray:
        """Gradient-embedding length ``|a_i| |h_i|`` (uncertainty scaled by the representation's norm)."""
        if ctx.n_pool == 0:
            return np.zeros(0)
        factor = gradient_factor(ctx.probas)
        embeddings = np.asarray(ctx.embeddings)
        norms = np.empty(embeddings.shape[0])
        for start in range(0, embeddings.shape[0], self.chunk_size):
            block = np.asarray(embeddings[start:start + self.chunk_size], dtype=np.float64)
            norms[start:start + block.shape[0]] = np.sqrt(np.einsum("ij,ij->i", block, block))
        return np.linalg.norm(factor, axis=1) * norms

    def select(self, ctx: PoolContext, n: int) -> np.ndarray:
        if n <= 0 or ctx.n_pool == 0:
            return np.zeros(0, dtype=np.int64)
        probas = np.asarray(ctx.probas)
        embeddings = np.asarray(ctx.embeddings)
        if probas.shape[0] != embeddings.shape[0]:
            raise ValueError(f"probas has {probas.shape[0]} rows but embeddings {embeddings.shape[0]}")
        projection = None
        if self.projection_dim is not None:
            projection = gaussian_projection(embeddings.shape[1], int(self.projection_dim), ctx.rng)
        with pinned_threads(self.threads), torch.no_grad():
            hidden = ChunkedPool(
                embeddings, precision=self.precision, device=self.device, chunk_size=self.chunk_size,
                projection=projection,
            )
            return badge_kmeanspp(hidden, gradient_factor(probas), n, ctx.rng)
