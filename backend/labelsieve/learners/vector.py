"""Vector classification: standardised features (or precomputed embeddings) + logistic regression.

``embed`` returns the standardised features themselves, so diversity strategies measure
distances in the space the classifier sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from labelsieve.arrays import as_matrix
from labelsieve.learners.base import BaseLearner, check_training_labels
from labelsieve.learners.linear import LinearHead
from labelsieve.storage.artifacts import read_arrays, read_json, write_arrays, write_json


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
    ) -> None:
        self.C = C
        self.standardize = standardize
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def _transform(self, X: Sequence[Any]) -> np.ndarray:
        matrix = as_matrix(X)
        if matrix.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"expected vectors of length {self.mean_.shape[0]}, got {matrix.shape[1]}")
        return (matrix - self.mean_) / self.scale_

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[str],
        *,
        sample_weight: np.ndarray | None = None,
        unlabeled: Sequence[Any] | None = None,
    ) -> Self:
        classes = check_training_labels(y)
        matrix = as_matrix(X)
        stats = matrix if not unlabeled else np.vstack([matrix, as_matrix(unlabeled)])
        if self.standardize:
            self.mean_ = stats.mean(axis=0).astype(np.float32)
            scale = stats.std(axis=0).astype(np.float32)
            self.scale_ = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
        else:
            self.mean_ = np.zeros(matrix.shape[1], dtype=np.float32)
            self.scale_ = np.ones(matrix.shape[1], dtype=np.float32)
        index = {label: i for i, label in enumerate(classes)}
        y_index = np.array([index[label] for label in y])
        self.head_ = LinearHead.fit(
            (matrix - self.mean_) / self.scale_, y_index, len(classes), C=self.C,
            class_weight=self.class_weight, sample_weight=sample_weight, max_iter=self.max_iter,
            random_state=self.random_state,
        )
        self.classes_ = classes
        return self

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return self.head_.predict_proba(self._transform(X))

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, self.mean_.shape[0]), dtype=np.float32)
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
            "coef": self.head_.coef, "intercept": self.head_.intercept, "mean": self.mean_, "scale": self.scale_,
        })
        write_json(directory / "vector.json", {"classes": self.classes_, "params": self.get_params()})

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "vector.json")
        arrays = read_arrays(directory / "vector.safetensors")
        learner = cls(**meta["params"])
        learner.classes_ = list(meta["classes"])
        learner.head_ = LinearHead(coef=arrays["coef"], intercept=arrays["intercept"])
        learner.mean_, learner.scale_ = arrays["mean"], arrays["scale"]
        return learner
