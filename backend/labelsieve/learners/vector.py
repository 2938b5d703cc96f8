"""Vector classification: standardised features (or precomputed embeddings) + logistic regression.

``embed`` returns the (standardised, optionally PCA-projected) features themselves, so diversity strategies
measure distances in the space the classifier sees.

The unlabeled pool (``fit(..., unlabeled=pool)``; the service loop passes it) is used when asked:
``pool_stats`` fits the standardisation (and ``pca_components``) on the labelled items plus a seeded sample of
at most ``pool_limit`` pool items instead of the labelled few; ``semi_supervised`` (``"self_training"`` or
``"label_spreading"``, scikit-learn's) adds pool items labelled with confidence ≥ ``pseudo_threshold`` to the
training set (learners/pool_features.py). ``logit_tau`` > 0 adjusts the fitted head post hoc by ``logit_tau · log
prior`` of the labelled classes (:meth:`~labelsieve.learners.linear.LinearHead.logit_adjusted`: the balancing of
``auto`` for the linear stage of ``auto_image`` on encoder vectors, benchmarks/results/generative.md).
``feature_power`` β < 1 applies Tukey's power transform ``sign(x)·|x|^β`` to every input vector before the
standardisation (β 0.5 for the sparse, skewed post-ReLU vectors of a pretrained encoder: Yang et al. 2021; what
``auto`` adds on encoder vectors, benchmarks/results/auto-image-balancing.md). The
defaults are the recipe that won on every benchmark set (benchmarks/learner_recipes.py, README "Learners").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from labelsieve.arrays import as_matrix
from labelsieve.learners.base import BaseLearner, check_training_labels
from labelsieve.learners.linear import LinearHead
from labelsieve.learners.pool_features import SEMI_SUPERVISED, PoolFeatures, pool_sample
from labelsieve.learners.semi_choice import choose_method, fit_head
from labelsieve.storage.artifacts import read_arrays, read_json, write_arrays, write_json

#: feature statistics from the pool by default: benchmarks/learner_recipes.py (README "Learners")
POOL_STATS_DEFAULT = True
#: folds of the labelled set that ``semi_supervised="auto"`` scores its candidates on (learners/semi_choice.py)
AUTO_FOLDS = 5


class VectorLearner(BaseLearner):
    input_kind: ClassVar[str] = "vector"

    def __init__(
        self,
        *,
        C: float = 1.0,
        standardize: bool = True,
        class_weight: str | None = None,
        max_iter: int = 2000,
        random_state: int = 0,
        pool_stats: bool = POOL_STATS_DEFAULT,
        pca_components: int | None = None,
        semi_supervised: str | None = None,
        pseudo_threshold: float = 0.9,
        n_neighbors: int = 7,
        pool_limit: int = 5000,
        logit_tau: float = 0.0,
        feature_power: float = 1.0,
    ) -> None:
        self.C = C
        self.standardize = standardize
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.pool_stats = pool_stats
        self.pca_components = pca_components
        self.semi_supervised = semi_supervised
        self.pseudo_threshold = pseudo_threshold
        self.n_neighbors = n_neighbors
        self.pool_limit = pool_limit
        self.logit_tau = logit_tau
        self.feature_power = feature_power

    def _matrix(self, X: Sequence[Any]) -> np.ndarray:
        """The input vectors as a matrix, power-transformed when ``feature_power`` is not 1."""
        matrix = as_matrix(X)
        if self.feature_power == 1.0:
            return matrix
        return (np.sign(matrix) * np.abs(matrix) ** float(self.feature_power)).astype(matrix.dtype, copy=False)

    def _transform(self, X: Sequence[Any]) -> np.ndarray:
        return self.features_.transform(self._matrix(X))

    def check(self) -> None:
        """Refuse bad parameter values with a ``ValueError`` naming them (``/setup`` calls it: a 400)."""
        if self.semi_supervised not in (None, "auto", *SEMI_SUPERVISED):
            raise ValueError(f"unknown semi_supervised {self.semi_supervised!r}; use None, 'auto' or one of "
                             f"{list(SEMI_SUPERVISED)}")
        if not isinstance(self.feature_power, int | float) or not 0 < self.feature_power <= 1:
            raise ValueError(f"feature_power must be a number in (0, 1], got {self.feature_power!r}")
        if not isinstance(self.logit_tau, int | float) or self.logit_tau < 0:
            raise ValueError(f"logit_tau must be a number >= 0, got {self.logit_tau!r}")

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[str],
        *,
        sample_weight: np.ndarray | None = None,
        unlabeled: Sequence[Any] | None = None,
    ) -> Self:
        classes = check_training_labels(y)
        self.check()
        matrix = self._matrix(X)
        pool = self._pool_matrix(unlabeled, matrix.shape[1])
        stats = np.vstack([matrix, pool]) if self.pool_stats and len(pool) else matrix
        self.features_ = PoolFeatures.fit(stats, standardize=self.standardize, pca_components=self.pca_components,
                                          random_state=self.random_state)
        index = {label: i for i, label in enumerate(classes)}
        y_index = np.array([index[label] for label in y])
        features = self.features_.transform(matrix)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        pool_features = self.features_.transform(pool) if self.semi_supervised else pool[:0]
        self.semi_supervised_cv_: dict[str, float] = {}
        method = self.semi_supervised
        if method == "auto":
            method, self.semi_supervised_cv_ = choose_method(
                features, y_index, lambda f, t, m: self._head(f, t, pool_features, len(classes), m, None)[0],
                folds=AUTO_FOLDS, random_state=self.random_state)
        self.semi_supervised_used_ = method
        self.head_, self.n_pseudo_ = self._head(features, y_index, pool_features, len(classes), method, weights)
        self.head_ = self.head_.logit_adjusted(y_index, len(classes), float(self.logit_tau))
        self.classes_ = classes
        return self

    def _head(self, features: np.ndarray, y_index: np.ndarray, pool: np.ndarray, n_classes: int,
              method: str | None, weights: np.ndarray | None) -> tuple[LinearHead, int]:
        return fit_head(features, y_index, pool, n_classes, method=method, weights=weights,
                        threshold=self.pseudo_threshold, n_neighbors=self.n_neighbors, C=self.C,
                        class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state)

    def _pool_matrix(self, unlabeled: Sequence[Any] | None, n_features: int) -> np.ndarray:
        """A seeded sample of at most ``pool_limit`` pool vectors, when a pool-using parameter is on."""
        if unlabeled is None or len(unlabeled) == 0 or not (self.pool_stats or self.semi_supervised):
            return np.zeros((0, n_features), dtype=np.float32)
        keep = pool_sample(len(unlabeled), self.pool_limit, np.random.default_rng(self.random_state))
        pool = self._matrix([unlabeled[int(i)] for i in keep])
        if pool.shape[1] != n_features:
            raise ValueError(f"unlabeled vectors have length {pool.shape[1]}, the labelled ones {n_features}")
        return pool

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return self.head_.predict_proba(self._transform(X))

    def features(self, X: Sequence[Any]) -> np.ndarray:
        """The classifier's input (standardised vectors): what multi-label heads are fitted on."""
        self.check_fitted()
        return self._transform(X)

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, self.features_.n_outputs), dtype=np.float32)
        return self._transform(X).astype(np.float32)

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embeddings from one standardisation of ``X`` (a ranking round needs both)."""
        self.check_fitted()
        if len(X) == 0:
            return self.predict_proba(X), self.embed(X)
        features = self._transform(X)
        return self.head_.predict_proba(features), features.astype(np.float32)

    def save(self, directory: Path) -> None:
        self.check_fitted()
        write_arrays(directory / "vector.safetensors", {
            "coef": self.head_.coef, "intercept": self.head_.intercept, **self.features_.arrays(),
        })
        write_json(directory / "vector.json", {"classes": self.classes_, "params": self.get_params()})

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "vector.json")
        arrays = read_arrays(directory / "vector.safetensors")
        learner = cls(**meta["params"])
        learner.classes_ = list(meta["classes"])
        learner.head_ = LinearHead(coef=arrays["coef"], intercept=arrays["intercept"])
        learner.features_ = PoolFeatures.from_arrays(arrays)
        return learner
