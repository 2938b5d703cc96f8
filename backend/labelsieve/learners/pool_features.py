"""Feature statistics fitted on the unlabeled pool, and semi-supervised pseudo-labels from it.

labelsieve always has the whole unlabeled pool; a handful of (noisy, actively chosen) labelled items is a
poor sample to estimate feature means, scales or principal axes from. :class:`PoolFeatures` fits them on
the labelled items plus a capped, seeded sample of the pool and is stored as plain arrays.

:func:`pseudo_labels` uses the pool for semi-supervised fitting with scikit-learn's own estimators:

- ``"self_training"``: :class:`~sklearn.semi_supervised.SelfTrainingClassifier` around the same logistic
  regression, adding pool items whose predicted probability reaches ``threshold`` (iterated);
- ``"label_spreading"``: :class:`~sklearn.semi_supervised.LabelSpreading` over a kNN graph of the features;
  pool items whose spread label distribution reaches ``threshold`` are kept.

Both return pool positions and class indices; the caller refits its linear head on the labelled items plus
the pseudo-labelled ones, so the stored model stays a linear head (no transductive state, no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

SEMI_SUPERVISED = ("self_training", "label_spreading")


def pool_sample(n_pool: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of at most ``limit`` pool items, drawn without replacement from ``rng``."""
    if n_pool <= limit:
        return np.arange(n_pool)
    return np.sort(rng.choice(n_pool, size=limit, replace=False))


@dataclass
class PoolFeatures:
    """``transform(x) = ((x - mean) / scale) @ components.T`` (no projection when ``components`` is empty)."""

    mean: np.ndarray  # (n_features,)
    scale: np.ndarray  # (n_features,)
    components: np.ndarray  # (n_components, n_features), or (0, n_features) for no projection

    @classmethod
    def identity(cls, n_features: int) -> PoolFeatures:
        return cls(mean=np.zeros(n_features, dtype=np.float32), scale=np.ones(n_features, dtype=np.float32),
                   components=np.zeros((0, n_features), dtype=np.float32))

    @classmethod
    def fit(cls, stats: np.ndarray, *, standardize: bool, pca_components: int | None,
            random_state: int) -> PoolFeatures:
        """Statistics from ``stats`` (labelled rows plus the pool sample)."""
        features = cls.identity(stats.shape[1])
        if standardize:
            features.mean = stats.mean(axis=0).astype(np.float32)
            scale = stats.std(axis=0).astype(np.float32)
            features.scale = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
        if pca_components:
            n = int(min(pca_components, stats.shape[0], stats.shape[1]))
            pca = PCA(n_components=n, random_state=random_state).fit((stats - features.mean) / features.scale)
            features.mean = (features.mean + pca.mean_ * features.scale).astype(np.float32)
            features.components = pca.components_.astype(np.float32)
        return features

    @property
    def n_inputs(self) -> int:
        return int(self.mean.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.components.shape[0]) or self.n_inputs

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.shape[1] != self.n_inputs:
            raise ValueError(f"expected vectors of length {self.n_inputs}, got {matrix.shape[1]}")
        scaled = (matrix - self.mean) / self.scale
        return scaled @ self.components.T if self.components.shape[0] else scaled

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "components": self.components}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PoolFeatures:
        components = arrays.get("components")
        if components is None:  # saved before pool features existed
            components = np.zeros((0, arrays["mean"].shape[0]), dtype=np.float32)
        return cls(mean=arrays["mean"], scale=arrays["scale"], components=components)


def pseudo_labels(
    labeled: np.ndarray, y_index: np.ndarray, pool: np.ndarray, *, method: str, threshold: float,
    n_neighbors: int, C: float, max_iter: int, random_state: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(pool positions, class indices)`` of the pool items ``method`` labels with confidence ≥ ``threshold``."""
    if method not in SEMI_SUPERVISED:
        raise ValueError(f"unknown semi_supervised {method!r}; use one of {list(SEMI_SUPERVISED)} or None")
    if len(pool) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    X = np.vstack([labeled, pool])
    y = np.concatenate([y_index, np.full(len(pool), -1)])
    if method == "self_training":
        model = SelfTrainingClassifier(
            LogisticRegression(C=C, max_iter=max_iter, random_state=random_state), threshold=threshold,
        ).fit(X, y)
        chosen = np.flatnonzero(model.labeled_iter_[len(labeled):] > 0)
        return chosen, model.transduction_[len(labeled):][chosen].astype(np.int64)
    spreading = LabelSpreading(kernel="knn", n_neighbors=int(min(n_neighbors, len(X) - 1))).fit(X, y)
    distributions = spreading.label_distributions_[len(labeled):]
    confident = np.flatnonzero(np.nan_to_num(distributions).max(axis=1) >= threshold)
    return confident, spreading.classes_[np.argmax(distributions[confident], axis=1)].astype(np.int64)
