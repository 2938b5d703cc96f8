"""The value of each labelled item.

``knn_shapley``: exact data Shapley values of a K-nearest-neighbour classifier (Jia et al., "Efficient
task-specific data valuation for nearest neighbor algorithms", VLDB 2019, Theorem 1). For one validation point
with the N training points sorted by distance α_1..α_N:

    s(α_N) = 1[y(α_N) = y_val] / N
    s(α_i) = s(α_{i+1}) + (1[y(α_i) = y_val] - 1[y(α_{i+1}) = y_val]) / K * min(K, i) / i

and an item's value is the mean over validation points. Without a validation set (the service), every labelled
item is a validation point for the others (leave-self-out), on at most ``max_validation`` sampled points; the
cost is ``m × n log n`` in chunks of ``chunk`` rows (no n×n matrix). Mislabelled items sit among neighbours of
another class and get negative values.

``loo_values``: true leave-one-out retraining (the reference the estimates are checked against; n refits).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _shapley_sorted(match: np.ndarray, k: int) -> np.ndarray:
    """Shapley values at the sorted positions of a block of validation points (rows), nearest first."""
    n = match.shape[1]
    s = np.empty_like(match, dtype=np.float64)
    s[:, n - 1] = match[:, n - 1] / n
    if n > 1:
        i = np.arange(1, n, dtype=np.float64)  # 1-indexed positions 1..N-1
        step = (match[:, :-1] - match[:, 1:]) / k * np.minimum(k, i) / i
        s[:, :-1] = s[:, n - 1:n] + np.cumsum(step[:, ::-1], axis=1)[:, ::-1]
    return s


def knn_shapley(
    train: np.ndarray,
    train_y: np.ndarray,
    *,
    validation: np.ndarray | None = None,
    validation_y: np.ndarray | None = None,
    k: int = 5,
    max_validation: int = 2000,
    chunk: int = 256,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Exact KNN-Shapley value of every training item (leave-self-out on ``train`` without a validation set)."""
    train = np.asarray(train, dtype=np.float32)
    train_y = np.asarray(train_y)
    n = len(train)
    values = np.zeros(n)
    if n < 2:
        return values
    self_out = validation is None
    if self_out:
        picked = np.arange(n)
        if n > max_validation:
            picked = np.sort((rng or np.random.default_rng(0)).choice(n, max_validation, replace=False))
        val, val_y = train[picked], train_y[picked]
    else:
        picked = None
        val, val_y = np.asarray(validation, dtype=np.float32), np.asarray(validation_y)
    sq_train = (train.astype(np.float64) ** 2).sum(axis=1)
    counts = np.zeros(n)
    for start in range(0, len(val), chunk):
        block = val[start:start + chunk].astype(np.float64)
        dist = (block ** 2).sum(axis=1)[:, None] - 2.0 * block @ train.T.astype(np.float64) + sq_train[None, :]
        if self_out:
            assert picked is not None
            rows = np.arange(len(block))
            dist[rows, picked[start:start + chunk]] = np.inf  # the point itself sorts last ...
        order = np.argsort(dist, axis=1, kind="stable")
        if self_out:  # the point itself sorted last: the recursion runs over the other n-1 points
            order = order[:, :-1]
        match = (train_y[order] == val_y[start:start + chunk, None]).astype(np.float64)
        block_values = np.zeros((len(block), n))
        np.put_along_axis(block_values, order, _shapley_sorted(match, k), axis=1)
        values += block_values.sum(axis=0)
        counts += len(block)
        if self_out:
            assert picked is not None
            np.subtract.at(counts, picked[start:start + chunk], 1.0)  # an item is no validation point for itself
    return values / np.maximum(counts, 1.0)


def loo_values(n: int, utility: Callable[[np.ndarray], float]) -> np.ndarray:
    """``utility(all) - utility(all but i)`` for every item: what removing it costs (n + 1 refits)."""
    everything = np.ones(n, dtype=bool)
    full = utility(everything)
    out = np.empty(n)
    for i in range(n):
        mask = everything.copy()
        mask[i] = False
        out[i] = full - utility(mask)
    return out
