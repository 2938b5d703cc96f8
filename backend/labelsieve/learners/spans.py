"""The named-entity learner: labelsieve's CRF (python-crfsuite) over tokens with character offsets.

``fit`` takes task texts and :class:`~labelsieve.spans.targets.SpanTarget` annotations; ``predict_regions`` gives
one :class:`~labelsieve.spans.targets.SpanOutput` per text (Viterbi path, path probability, token marginals), which
the ``ner`` task type turns into Label Studio regions and task uncertainties. Saved as crfsuite's own model file
plus JSON: no pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from labelsieve.learners.base import BaseLearner, TrainingDataError
from labelsieve.spans.crf import CrfTagger
from labelsieve.spans.targets import SpanOutput, SpanTarget
from labelsieve.spans.tokens import tokenize

MODEL_FILE = "model.crfsuite"
META_FILE = "spans.json"


class CrfSpanLearner(BaseLearner):
    """Linear-chain CRF with word-shape and context features; BIO tags; per-token marginals."""

    input_kind: ClassVar[str] = "text"
    task_types: ClassVar[tuple[str, ...]] = ("ner",)

    def __init__(self, *, c1: float = 0.05, c2: float = 0.05, max_iterations: int = 100,
                 embedding_dim: int = 256) -> None:
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.embedding_dim = embedding_dim

    def _tagger_params(self) -> dict[str, Any]:
        return {"c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations}

    def fit(self, X: Sequence[str], y: Sequence[SpanTarget], *, sample_weight: np.ndarray | None = None,
            unlabeled: Sequence[Any] | None = None) -> Self:
        if len(X) != len(y):
            raise ValueError(f"{len(X)} texts but {len(y)} targets")
        words: list[list[str]] = []
        tags: list[list[str]] = []
        for text, target in zip(X, y, strict=True):
            tokens = tokenize(text)
            if tokens:
                sequence, _rejected = target.tags(text, tokens)  # bad spans are dropped, the rest trains
                words.append([t.text for t in tokens])
                tags.append(sequence)
        if not words:
            raise TrainingDataError("no labelled text with at least one token to train on")
        self.tagger_ = CrfTagger(**self._tagger_params()).fit(words, tags)
        self.classes_ = list(self.tagger_.classes_)
        return self

    def predict_regions(self, X: Sequence[str]) -> list[SpanOutput]:
        self.check_fitted()
        tokenised = [tokenize(text) for text in X]
        predictions = self.tagger_.decode([[t.text for t in tokens] for tokens in tokenised])
        classes = tuple(self.classes_)
        return [SpanOutput(text, tokens, prediction, classes)
                for text, tokens, prediction in zip(X, tokenised, predictions, strict=True)]

    def predict(self, X: Sequence[str]) -> list[SpanTarget]:  # type: ignore[override]
        return [output.as_target() for output in self.predict_regions(X)]

    def embed(self, X: Sequence[str]) -> np.ndarray:
        """Hashed bag of lower-cased words (L2-normalised): what the diversity strategies compare."""
        vectorizer = HashingVectorizer(n_features=self.embedding_dim, alternate_sign=False, norm="l2",
                                       token_pattern=r"(?u)\b\w+\b")
        return vectorizer.transform(list(X)).toarray().astype(np.float32)

    def save(self, directory: Path) -> None:
        self.check_fitted()
        directory = Path(directory)
        (directory / MODEL_FILE).write_bytes(self.tagger_.to_bytes())
        (directory / META_FILE).write_text(json.dumps({"params": self.get_params(), "classes": self.classes_}))

    @classmethod
    def load(cls, directory: Path) -> Self:
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        learner = cls(**meta["params"])
        learner.tagger_ = CrfTagger.from_bytes((directory / MODEL_FILE).read_bytes(), **learner._tagger_params())
        learner.classes_ = list(learner.tagger_.classes_)
        return learner
