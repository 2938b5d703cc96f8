"""A logistic-regression head stored as plain arrays (fit with scikit-learn, no pickle)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from labelsieve.learners.base import softmax


@dataclass
class LinearHead:
    coef: np.ndarray  # (n_classes, n_features); binary problems are expanded to two rows
    intercept: np.ndarray  # (n_classes,)

    @classmethod
    def fit(
        cls,
        X: np.ndarray | sparse.spmatrix,
        y_index: np.ndarray,
        n_classes: int,
        *,
        C: float,
        class_weight: str | None,
        sample_weight: np.ndarray | None,
        max_iter: int,
        random_state: int,
    ) -> LinearHead:
        model = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, random_state=random_state)
        model.fit(X, y_index, sample_weight=sample_weight)
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        seen = list(model.classes_)
        if coef.shape[0] == 1:  # binary: logits [0, z]
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.array([0.0, intercept[0]], dtype=np.float32)
        full_coef = np.zeros((n_classes, coef.shape[1]), dtype=np.float32)
        full_intercept = np.full(n_classes, -1e4, dtype=np.float32)
        for row, cls_index in enumerate(seen):
            full_coef[int(cls_index)] = coef[row]
            full_intercept[int(cls_index)] = intercept[row]
        return cls(coef=full_coef, intercept=full_intercept)

    def logit_adjusted(self, y_index: np.ndarray, n_classes: int, tau: float) -> LinearHead:
        """Post-hoc logit adjustment (Menon et al. 2021): ``tau * log prior`` of the training labels subtracted from
        the intercepts, so a rare class needs less evidence to win; the same head when ``tau`` is 0."""
        if tau == 0:
            return self
        counts = np.bincount(np.asarray(y_index, dtype=np.int64), minlength=n_classes).astype(np.float64)
        prior = np.maximum(counts, 1.0) / counts.sum()
        return LinearHead(coef=self.coef, intercept=(self.intercept - tau * np.log(prior)).astype(np.float32))

    def logits(self, X: np.ndarray | sparse.spmatrix) -> np.ndarray:
        out = X @ self.coef.T
        return np.asarray(out, dtype=np.float64) + self.intercept

    def predict_proba(self, X: np.ndarray | sparse.spmatrix) -> np.ndarray:
        return softmax(self.logits(X))
