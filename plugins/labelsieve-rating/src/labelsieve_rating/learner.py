"""The learner of rating projects: a labelsieve single-label learner over the star values, read as ordinal.

The ``base`` learner (``text`` by default: TF-IDF or sentence embeddings, whatever a single-label text project
would get) is fitted with the star values as classes; its class probabilities are the rating distribution. The
prediction is the distribution's median, the rating with the least expected absolute error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from labelsieve.learners.base import BaseLearner
from labelsieve.registry import get_registry
from labelsieve.storage.artifacts import read_json, write_json
from labelsieve_rating.tasktype import RatingOutput


def median_rating(values: np.ndarray, probas: np.ndarray) -> int:
    """The smallest value whose cumulative probability reaches 1/2 (``values`` ascending)."""
    return int(values[min(int(np.searchsorted(np.cumsum(probas), 0.5 - 1e-12)), len(values) - 1)])


class RatingLearner(BaseLearner):
    """Rating distribution from a single-label base learner; predicts the median (module docstring)."""

    task_types: ClassVar[tuple[str, ...]] = ("rating",)

    def __init__(self, *, base: str = "text", base_params: dict[str, Any] | None = None) -> None:
        self.base = base
        self.base_params = base_params

    @property
    def input_kind(self) -> str:  # type: ignore[override]
        return str(get_registry("learners").load(self.base).input_kind)

    def fit(self, X: Sequence[Any], y: Sequence[str], *, sample_weight: np.ndarray | None = None,
            unlabeled: Sequence[Any] | None = None) -> Self:
        self.base_ = get_registry("learners").create(self.base, dict(self.base_params or {}))
        self.base_.fit(X, [str(int(r)) for r in y], sample_weight=sample_weight, unlabeled=unlabeled)
        self._index()
        return self

    def _index(self) -> None:
        self.classes_ = sorted(self.base_.classes_, key=int)
        self.order_ = np.array([list(self.base_.classes_).index(c) for c in self.classes_])
        self.values_ = np.array([int(c) for c in self.classes_], dtype=np.float64)

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """``(n, k)`` probabilities of the known star values, ascending (``classes_``)."""
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return np.asarray(self.base_.predict_proba(X), dtype=np.float64)[:, self.order_]

    def predict_regions(self, X: Sequence[Any]) -> list[RatingOutput]:
        outputs = []
        for row in self.predict_proba(X):
            rating = median_rating(self.values_, row)
            outputs.append(RatingOutput(self.values_, row, rating, float(row[self.classes_.index(str(rating))])))
        return outputs

    def predict(self, X: Sequence[Any]) -> list[str]:
        return [str(output.rating) for output in self.predict_regions(X)]

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        return np.asarray(self.base_.embed(X), dtype=np.float32)

    def save(self, directory: Path) -> None:
        self.check_fitted()
        (directory / "base").mkdir(parents=True, exist_ok=True)
        self.base_.save(directory / "base")
        write_json(directory / "rating.json", {"params": self.get_params()})

    @classmethod
    def load(cls, directory: Path) -> Self:
        learner = cls(**read_json(directory / "rating.json")["params"])
        learner.base_ = get_registry("learners").load(learner.base).load(directory / "base")
        learner._index()
        return learner
