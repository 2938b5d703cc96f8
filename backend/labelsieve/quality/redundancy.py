"""Near-duplicates among the labelled items: cosine similarity on embeddings, in row blocks (no n×n matrix)."""

from __future__ import annotations

import numpy as np


def nearest_neighbour(embeddings: np.ndarray, *, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(index of the most similar other item, its cosine similarity) for every item; -1 / 0 for a single item."""
    E = np.asarray(embeddings, dtype=np.float32)
    n = len(E)
    best = np.full(n, -1, dtype=np.int64)
    sim = np.zeros(n, dtype=np.float64)
    if n < 2:
        return best, sim
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    U = E / np.where(norms > 0, norms, 1.0)
    for start in range(0, n, chunk):
        block = U[start:start + chunk] @ U.T
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = -np.inf
        best[start:start + chunk] = np.argmax(block, axis=1)
        sim[start:start + chunk] = block[rows, best[start:start + chunk]]
    return best, sim
