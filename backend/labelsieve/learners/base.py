"""The learner contract: what the loop, the strategies and the balancing code may call.

A learner is estimator-shaped (scikit-learn discipline): ``__init__`` only stores keyword
parameters, ``fit`` sets attributes ending in ``_`` and returns ``self``, randomness comes from
``random_state``. Inputs depend on the learner's ``input_kind``:

- ``"text"``: ``str`` per item;
- ``"image"``: a ``PIL.Image.Image`` (or an ``H×W`` / ``H×W×C`` uint8 array) per item;
- ``"vector"``: a 1-D float array per item (features or precomputed embeddings).

Persistence never pickles: ``save(directory)`` writes safetensors/JSON, ``load(directory)``
reads them back (``directory`` also holds ``learner.json`` written by the artifact store).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from labelsieve.params import constructor_params


class NotFittedError(RuntimeError):
    """predict/embed was called before fit."""


class TrainingDataError(ValueError):
    """The labelled data cannot train this learner (e.g. only one class so far)."""


@runtime_checkable
class Learner(Protocol):
    input_kind: ClassVar[str]
    classes_: list[str]

    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[str],
        *,
        sample_weight: np.ndarray | None = None,
        unlabeled: Sequence[Any] | None = None,
    ) -> Self: ...

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray: ...

    def predict(self, X: Sequence[Any]) -> list[str]:
        """The most probable class name per item (the simulation scores held-out items with it)."""
        ...

    def embed(self, X: Sequence[Any]) -> np.ndarray: ...

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """``(predict_proba(X), embed(X))`` in one pass: the host ranks the pool with it."""
        ...

    def get_params(self) -> dict[str, Any]: ...

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path) -> Self: ...


class BaseLearner:
    """Shared plumbing: params from the constructor signature, repr, fitted checks."""

    input_kind: ClassVar[str] = "vector"
    #: True when ``predict_proba_samples`` gives stochastic (MC-dropout) forward passes.
    supports_mc_dropout: ClassVar[bool] = False

    classes_: list[str]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in constructor_params(type(self))}

    def set_params(self, **params: Any) -> Self:
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def check_fitted(self) -> None:
        if not getattr(self, "classes_", None):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet")

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embeddings in one pass (learners override when cheaper)."""
        return self.predict_proba(X), self.embed(X)

    def predict(self, X: Sequence[Any]) -> list[str]:
        proba = self.predict_proba(X)
        return [self.classes_[i] for i in np.argmax(proba, axis=1)]


def check_training_labels(y: Sequence[str]) -> list[str]:
    """Sorted class names; raises :class:`TrainingDataError` with fewer than two classes."""
    classes = sorted(set(y))
    if len(y) == 0:
        raise TrainingDataError("no labelled examples to train on")
    if len(classes) < 2:
        raise TrainingDataError(
            f"need labelled examples of at least 2 classes to train, have only {classes!r}"
        )
    return classes


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
