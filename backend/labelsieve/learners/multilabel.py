"""Multi-label classification: one-vs-rest logistic regressions on a single-label learner's features.

The ``base`` learner (``text``, ``vector``, ``image``, ``auto_image``; any registered learner) makes the features
exactly as for single-label projects: TF-IDF or sentence embeddings for text, standardised vectors, image
features. It is fitted on the label *sets* as classes (so a supervised base, e.g. a CNN, learns from them), then
one binary logistic regression per label is fitted on its features (``features(X)`` when the base offers it,
else ``embed(X)``). Each label gets its own decision threshold, chosen on out-of-fold probabilities to maximise
that label's F1 (``threshold_folds``-fold; 0.5 while a label has fewer than ``threshold_folds`` positives or
negatives). A label no labelled task has (or every task has) gets a constant probability, its smoothed rate.

Targets ``y`` are label sets (sequences of label names); ``predict_proba`` gives ``(n, n_labels)`` independent
per-label probabilities (rows do not sum to 1), ``predict_sets`` the labels at or above threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from labelsieve.learners.base import BaseLearner, TrainingDataError
from labelsieve.registry import get_registry
from labelsieve.storage.artifacts import read_arrays, read_json, write_arrays, write_json

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The grid threshold maximising F1 of ``p >= t`` against ``y`` (ties: the one closest to 0.5)."""
    best, best_f1 = 0.5, -1.0
    for t in sorted(THRESHOLD_GRID, key=lambda v: abs(v - 0.5)):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        denom = float(np.sum(pred) + np.sum(y == 1))
        f1 = 2 * tp / denom if denom else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(t), f1
    return best


class MultiLabelLearner(BaseLearner):
    """One-vs-rest over a single-label learner's features, with per-label thresholds (module docstring)."""

    task_types: ClassVar[tuple[str, ...]] = ("multi_label",)

    def __init__(self, *, base: str = "text", base_params: dict[str, Any] | None = None, C: float = 1.0,
                 threshold_folds: int = 3, max_iter: int = 2000, random_state: int = 0) -> None:
        self.base = base
        self.base_params = base_params
        self.C = C
        self.threshold_folds = threshold_folds
        self.max_iter = max_iter
        self.random_state = random_state

    @property
    def input_kind(self) -> str:  # type: ignore[override]
        return str(get_registry("learners").load(self.base).input_kind)

    # ------------------------------------------------------------------ features
    def _features(self, X: Sequence[Any]) -> Any:
        features = getattr(self.base_, "features", None)
        out = features(X) if callable(features) else self.base_.embed(X)
        return out if sparse.issparse(out) else np.asarray(out, dtype=np.float64)

    def _fit_label(self, features: Any, y: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, float]:
        if y.min() == y.max():  # constant label: its smoothed rate, no slope
            rate = (y.sum() + 0.5) / (len(y) + 1.0)
            return np.zeros(features.shape[1]), float(np.log(rate / (1 - rate)))
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        model.fit(features, y, sample_weight=weights)
        return np.asarray(model.coef_[0], dtype=np.float64), float(model.intercept_[0])

    def _thresholds(self, features: Any, Y: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        folds = int(self.threshold_folds)
        thresholds = np.full(Y.shape[1], 0.5)
        positives, negatives = Y.sum(axis=0), (1 - Y).sum(axis=0)
        tunable = np.flatnonzero((positives >= folds) & (negatives >= folds)) if folds >= 2 else np.zeros(0, int)
        if not len(tunable):
            return thresholds
        oof = np.zeros((Y.shape[0], len(tunable)))
        splitter = KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for train, test in splitter.split(np.zeros(Y.shape[0])):
            for k, j in enumerate(tunable):
                w = None if weights is None else weights[train]
                coef, intercept = self._fit_label(features[train], Y[train, j], w)
                oof[test, k] = _sigmoid(np.asarray(features[test] @ coef).ravel() + intercept)
        for k, j in enumerate(tunable):
            thresholds[j] = best_threshold(Y[:, j], oof[:, k])
        return thresholds

    # ---------------------------------------------------------------------- fit
    def fit(self, X: Sequence[Any], y: Sequence[Sequence[str]], *, sample_weight: np.ndarray | None = None,
            unlabeled: Sequence[Any] | None = None) -> Self:
        sets = [tuple(sorted(set(labels))) for labels in y]
        if not sets:
            raise TrainingDataError("no labelled examples to train on")
        classes = sorted({label for labels in sets for label in labels})
        if len(set(sets)) < 2:
            raise TrainingDataError(f"every labelled task has the same label set {list(sets[0])}; need at least "
                                    "2 different label sets to train")
        self.base_ = get_registry("learners").create(self.base, dict(self.base_params or {}))
        self.base_.fit(X, ["|".join(s) for s in sets], unlabeled=unlabeled)
        features = self._features(X)
        index = {label: j for j, label in enumerate(classes)}
        Y = np.zeros((len(sets), len(classes)), dtype=np.int64)
        for i, labels in enumerate(sets):
            Y[i, [index[label] for label in labels]] = 1
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        fitted = [self._fit_label(features, Y[:, j], weights) for j in range(len(classes))]
        self.coef_ = np.vstack([c for c, _ in fitted])
        self.intercept_ = np.array([b for _, b in fitted])
        self.thresholds_ = self._thresholds(features, Y, weights)
        self.classes_ = classes
        return self

    # ------------------------------------------------------------------ predict
    def _proba(self, features: Any) -> np.ndarray:
        return _sigmoid(np.asarray(features @ self.coef_.T) + self.intercept_)

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return self._proba(self._features(X))

    def predict_sets(self, X: Sequence[Any]) -> list[tuple[str, ...]]:
        """The labels at or above their threshold, per item (possibly none)."""
        chosen = self.predict_proba(X) >= self.thresholds_
        return [tuple(self.classes_[j] for j in np.flatnonzero(row)) for row in chosen]

    def predict(self, X: Sequence[Any]) -> list[str]:  # type: ignore[override]
        """The predicted set per item as one ``|``-joined string (the simulation's CSV cell format)."""
        return ["|".join(labels) for labels in self.predict_sets(X)]

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        return np.asarray(self.base_.embed(X), dtype=np.float32)

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        return self.predict_proba(X), self.embed(X)

    # -------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        self.check_fitted()
        (directory / "base").mkdir(parents=True, exist_ok=True)
        self.base_.save(directory / "base")
        write_arrays(directory / "multilabel.safetensors", {
            "coef": self.coef_.astype(np.float64), "intercept": self.intercept_.astype(np.float64),
            "thresholds": self.thresholds_.astype(np.float64)})
        write_json(directory / "multilabel.json", {"classes": self.classes_, "params": self.get_params()})

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "multilabel.json")
        arrays = read_arrays(directory / "multilabel.safetensors")
        learner = cls(**meta["params"])
        learner.classes_ = list(meta["classes"])
        learner.base_ = get_registry("learners").load(learner.base).load(directory / "base")
        learner.coef_, learner.intercept_ = arrays["coef"], arrays["intercept"]
        learner.thresholds_ = arrays["thresholds"]
        return learner
