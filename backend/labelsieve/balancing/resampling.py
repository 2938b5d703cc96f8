"""Resampling through imbalanced-learn.

- Index level (any input kind: images, texts, vectors): ``random_over`` / ``random_under`` run
  ``RandomOverSampler`` / ``RandomUnderSampler`` on the index array and return which rows to keep
  (repeats allowed), so images are never flattened.
- Vector level (features or embeddings): ``smote`` / ``borderline_smote`` / ``adasyn`` / ``kmeans_smote`` create
  new points by interpolation. ``kmeans_smote`` (imbalanced-learn's ``KMeansSMOTE``, Douzas et al. 2018) first
  clusters all rows with k-means (``n_clusters``, default: one cluster per 20 rows, 2 to 8) and interpolates only
  inside clusters where the minority class is dense, so a minority class made of separate groups gets no points
  between its groups (where plain SMOTE can put them inside another class). Classes with fewer than 2 samples
  are left alone (nothing to interpolate), ``k_neighbors`` is capped at ``n_min - 1``, and ADASYN's ``RuntimeError``
  ("Not any neigbours belong to the majority class", common when classes are well separated)
  falls back to SMOTE, and so does KMeansSMOTE's "No clusters found with sufficient samples".
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

from labelsieve.balancing.base import BalancingError

log = logging.getLogger(__name__)

INDEX_METHODS = ("random_over", "random_under")
VECTOR_METHODS = ("smote", "borderline_smote", "adasyn", "kmeans_smote")


def resample_indices(y: np.ndarray, method: str, *, rng: np.random.Generator) -> np.ndarray:
    """Row indices into ``y`` after random over- or under-sampling to equal class counts."""
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    seed = int(rng.integers(0, 2**31 - 1))
    if method == "random_over":
        sampler: Any = RandomOverSampler(random_state=seed)
    elif method == "random_under":
        sampler = RandomUnderSampler(random_state=seed)
    else:
        raise BalancingError(f"unknown index resampling {method!r}; choose one of {', '.join(INDEX_METHODS)}")
    index = np.arange(len(y)).reshape(-1, 1)
    sampler.fit_resample(index, np.asarray(y))
    return np.asarray(sampler.sample_indices_, dtype=np.int64)


def default_clusters(n_rows: int) -> int:
    """``kmeans_smote``'s cluster count when none is given: one per 20 rows, from 2 to 8."""
    return int(min(8, max(2, n_rows // 20)))


def _oversampler(method: str, k: int, seed: int, n_clusters: int = 2) -> Any:
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, KMeansSMOTE

    if method == "smote":
        return SMOTE(k_neighbors=k, random_state=seed)
    if method == "borderline_smote":
        return BorderlineSMOTE(k_neighbors=k, m_neighbors=max(k, 2), random_state=seed)
    if method == "adasyn":
        return ADASYN(n_neighbors=k, random_state=seed)
    if method == "kmeans_smote":
        return KMeansSMOTE(k_neighbors=k, kmeans_estimator=n_clusters, cluster_balance_threshold="auto",
                           random_state=seed)
    raise BalancingError(f"unknown vector oversampling {method!r}; choose one of {', '.join(VECTOR_METHODS)}")


def resample_vectors(
    X: np.ndarray, y: np.ndarray, method: str, *, rng: np.random.Generator, k_neighbors: int = 5,
    n_clusters: int | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Original rows first, then the synthetic ones; plus info (targets, k, fallback)."""
    y = np.asarray(y)
    counts = Counter(y.tolist())
    n_max = max(counts.values())
    targets = {label: n_max for label, n in counts.items() if 2 <= n < n_max}
    info: dict[str, Any] = {"method": method, "skipped_tiny": sorted(str(c) for c, n in counts.items() if n < 2)}
    if not targets:
        info["k_neighbors"] = 0
        return X, y, info
    k = max(1, min(k_neighbors, min(counts[label] for label in targets) - 1))
    info["k_neighbors"] = k
    seed = int(rng.integers(0, 2**31 - 1))
    clusters = n_clusters if n_clusters is not None else default_clusters(len(y))
    if method == "kmeans_smote":
        info["n_clusters"] = clusters
    try:
        X_res, y_res = _oversampler(method, k, seed, clusters).set_params(sampling_strategy=targets).fit_resample(X, y)
    except (RuntimeError, ValueError) as exc:
        if method == "smote":
            raise BalancingError(f"SMOTE failed on this data: {exc}") from exc
        log.info("%s failed (%s); falling back to SMOTE", method, exc)
        info["fallback"] = f"smote ({type(exc).__name__}: {exc})"
        X_res, y_res = _oversampler("smote", k, seed).set_params(sampling_strategy=targets).fit_resample(X, y)
    return np.asarray(X_res), np.asarray(y_res), info
