"""Resampling through imbalanced-learn.

- Index level (any input kind: images, texts, vectors): ``random_over`` / ``random_under`` run
  ``RandomOverSampler`` / ``RandomUnderSampler`` on the index array and return which rows to keep
  (repeats allowed), so images are never flattened.
- Vector level (features or embeddings): ``smote`` / ``borderline_smote`` / ``adasyn`` create new
  points by interpolation. Classes with fewer than 2 samples are left alone (nothing to
  interpolate), ``k_neighbors`` is capped at ``n_min - 1``, and ADASYN's ``RuntimeError``
  ("Not any neigbours belong to the majority class", common when classes are well separated)
  falls back to SMOTE.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

from labelsieve.balancing.base import BalancingError

log = logging.getLogger(__name__)

INDEX_METHODS = ("random_over", "random_under")
VECTOR_METHODS = ("smote", "borderline_smote", "adasyn")


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


def _oversampler(method: str, k: int, seed: int) -> Any:
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE

    if method == "smote":
        return SMOTE(k_neighbors=k, random_state=seed)
    if method == "borderline_smote":
        return BorderlineSMOTE(k_neighbors=k, m_neighbors=max(k, 2), random_state=seed)
    if method == "adasyn":
        return ADASYN(n_neighbors=k, random_state=seed)
    raise BalancingError(f"unknown vector oversampling {method!r}; choose one of {', '.join(VECTOR_METHODS)}")


def resample_vectors(
    X: np.ndarray, y: np.ndarray, method: str, *, rng: np.random.Generator, k_neighbors: int = 5,
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
    try:
        X_res, y_res = _oversampler(method, k, seed).set_params(sampling_strategy=targets).fit_resample(X, y)
    except (RuntimeError, ValueError) as exc:
        if method == "smote":
            raise BalancingError(f"SMOTE failed on this data: {exc}") from exc
        log.info("%s failed (%s); falling back to SMOTE", method, exc)
        info["fallback"] = f"smote ({type(exc).__name__}: {exc})"
        X_res, y_res = _oversampler("smote", k, seed).set_params(sampling_strategy=targets).fit_resample(X, y)
    return np.asarray(X_res), np.asarray(y_res), info
