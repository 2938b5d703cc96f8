"""Information density (Settles & Craven 2008): uncertainty weighted by representativeness."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies._chunks import CHUNK, fit_centres, pool_vectors, sq_dists
from labelsieve.strategies.base import PoolContext, QueryStrategy

UNCERTAINTIES = ("entropy", "margin", "least_confidence")


def uncertainty(probas: np.ndarray, how: str) -> np.ndarray:
    """Non-negative uncertainty (higher = less sure)."""
    if probas.shape[0] == 0:
        return np.zeros(0)
    if how == "entropy":
        p = np.clip(probas, 1e-12, 1.0)
        return -(p * np.log(p)).sum(axis=1)
    if how == "least_confidence":
        return 1.0 - probas.max(axis=1)
    if how == "margin":
        if probas.shape[1] < 2:
            return np.ones(probas.shape[0])
        top2 = np.partition(probas, -2, axis=1)[:, -2:]
        return 1.0 - (top2[:, 1] - top2[:, 0])
    raise ValueError(f"unknown uncertainty {how!r}; use one of {UNCERTAINTIES}")


def mean_similarity(x: np.ndarray, reference: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Mean of ``(1 + cos) / 2`` between every row of ``x`` and the reference rows (chunked), in [0, 1]."""
    ref = reference.astype(np.float32)
    ref = ref / np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12)
    ref_mean = ref.mean(axis=0)  # mean of cosines = cosine against the mean of unit vectors (linear)
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk):
        block = x[start:start + chunk].astype(np.float32)
        norms = np.maximum(np.linalg.norm(block, axis=1), 1e-12)
        out[start:start + chunk] = (1.0 + (block @ ref_mean) / norms) / 2.0
    return np.clip(out, 0.0, 1.0)


def mean_rbf(x: np.ndarray, reference: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Mean Gaussian similarity ``exp(-|x - r|^2 / (2 s^2))`` to the reference rows (chunked), with
    ``s^2`` the median squared distance between reference rows, in [0, 1]."""
    ref = reference.astype(np.float32)
    ref_sq = (ref**2).sum(axis=1)
    between = sq_dists(ref, ref, ref_sq)
    off = between[~np.eye(ref.shape[0], dtype=bool)]
    scale = float(np.median(off)) if off.size and np.median(off) > 0 else 1.0
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], chunk):
        d = sq_dists(x[start:start + chunk], ref, ref_sq)
        out[start:start + chunk] = np.exp(-d / (2.0 * scale)).mean(axis=1)
    return out


class DensityWeighted(QueryStrategy):
    """Information density: ``uncertainty(x) * mean_similarity(x)^beta``.

    Similarity is averaged over a bounded reference set instead of the whole pool (the paper's
    ``O(n^2)``): ``reference="sample"`` uses ``reference_size`` random pool items, ``"centroids"``
    ``reference_size`` k-means centroids (fitted on a bounded subsample). ``similarity="rbf"``
    (default) is a Gaussian kernel with the median reference distance as bandwidth, so items in
    dense regions count more: ``O(n d r)`` time, ``O(chunk r)`` extra memory. ``"cosine"`` is the
    paper's ``(1 + cos) / 2``; its mean is linear, so it reduces to one cosine against the mean unit
    reference vector (``O(n d)``), but on centred embeddings it is nearly constant.
    """

    category = "hybrid"

    def __init__(
        self, uncertainty: str = "entropy", beta: float = 1.0, reference: str = "centroids",
        reference_size: int = 64, similarity: str = "rbf",
    ) -> None:
        self.uncertainty = uncertainty
        self.beta = beta
        self.reference = reference
        self.reference_size = reference_size
        self.similarity = similarity

    def score(self, ctx: PoolContext) -> np.ndarray:
        if self.reference not in ("sample", "centroids"):
            raise ValueError(f"unknown reference {self.reference!r}; use 'sample' or 'centroids'")
        if self.similarity not in ("rbf", "cosine"):
            raise ValueError(f"unknown similarity {self.similarity!r}; use 'rbf' or 'cosine'")
        base = uncertainty(ctx.probas, self.uncertainty)
        if ctx.n_pool == 0:
            return base
        x = pool_vectors(ctx, "density_weighted")
        size = min(ctx.n_pool, int(self.reference_size))
        if self.reference == "sample":
            reference = x[np.sort(ctx.rng.choice(ctx.n_pool, size=size, replace=False))]
        else:
            reference = fit_centres(x, size, ctx.rng)
        kernel = mean_rbf if self.similarity == "rbf" else mean_similarity
        return base * kernel(x, reference) ** float(self.beta)
