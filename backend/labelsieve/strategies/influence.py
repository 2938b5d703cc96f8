"""Influence estimate: expected gradient length of the last layer (Settles, Craven & Ray 2008)."""

from __future__ import annotations

import numpy as np

from labelsieve.strategies._chunks import CHUNK
from labelsieve.strategies.base import PoolContext, QueryStrategy


def expected_gradient_length(probas: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """``E_{y~p} |grad_{W,b} CE(x, y)| = sum_c p_c |p - e_c| sqrt(|h|^2 + 1)`` per row, in ``O(n (C + d))``."""
    p = np.asarray(probas, dtype=np.float64)
    sq_p = (p**2).sum(axis=1, keepdims=True)
    residual = np.sqrt(np.maximum(sq_p - 2.0 * p + 1.0, 0.0))  # |p - e_c| for every class c
    h_sq = np.empty(p.shape[0])
    for start in range(0, p.shape[0], CHUNK):  # no pool-sized float64 copy of the embeddings
        block = np.asarray(embeddings[start:start + CHUNK])
        h_sq[start:start + CHUNK] = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    return (p * residual).sum(axis=1) * np.sqrt(h_sq + 1.0)


class Influence(QueryStrategy):
    """Estimated influence of labelling an item on the model: expected gradient length (EGL).

    Exact leave-one-in retraining per pool item is far too slow, so this is the first-order
    approximation: the size of the change one gradient step on ``(x, y)`` would make to a softmax
    layer on the embeddings ``h``, ``|(p - e_y) h^T|`` plus the bias term, expected over the
    model's own label distribution ``y ~ p(y|x)``. For the linear learners this is the exact
    gradient of their loss; for deep learners it covers the last layer only. Items that are both
    uncertain and far from the origin of the embedding space (large ``|h|``) score highest.
    Cost: ``O(n (C + d))`` time, no extra pool-sized memory beyond probabilities and embeddings.
    """

    category = "value"

    def __init__(self) -> None:
        pass

    def score(self, ctx: PoolContext) -> np.ndarray:
        if ctx.n_pool == 0:
            return np.zeros(0)
        return expected_gradient_length(ctx.probas, ctx.embeddings)
