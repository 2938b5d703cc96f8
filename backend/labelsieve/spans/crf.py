"""A linear-chain CRF over word-shape and context features (python-crfsuite), with per-token marginals.

The model is crfsuite's own binary file: ``to_bytes`` / ``from_bytes`` move it without pickle.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pycrfsuite

from labelsieve.spans.bio import OUTSIDE
from labelsieve.spans.features import sentence_features


class NotFittedError(RuntimeError):
    """The tagger was used before ``fit`` or ``from_bytes``."""


@dataclass(frozen=True)
class SequencePrediction:
    """What the CRF says about one sentence."""

    tags: list[str]  # the Viterbi path
    path_probability: float  # P(tags | sentence)
    marginals: np.ndarray  # (n_tokens, n_classes) P(tag of token t = class k | sentence), classes as in classes_


class CrfTagger:
    """BIO tagger. ``c1`` / ``c2``: L1 / L2 penalties of crfsuite's L-BFGS training."""

    def __init__(self, *, c1: float = 0.05, c2: float = 0.05, max_iterations: int = 100) -> None:
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations

    def fit(self, sentences: Sequence[list[str]], tags: Sequence[list[str]]) -> CrfTagger:
        if len(sentences) != len(tags):
            raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag sequences")
        trainer = pycrfsuite.Trainer(verbose=False)
        kept = 0
        for words, labels in zip(sentences, tags, strict=True):
            if len(words) != len(labels):
                raise ValueError(f"a sentence has {len(words)} tokens but {len(labels)} tags")
            if words:
                trainer.append(pycrfsuite.ItemSequence(sentence_features(list(words))), list(labels))
                kept += 1
        if kept == 0:
            raise ValueError("no sentence with at least one token to train on")
        trainer.set_params({"c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations,
                            "feature.possible_transitions": True})
        with tempfile.TemporaryDirectory(prefix="labelsieve-crf-") as folder:
            path = os.path.join(folder, "model.crfsuite")
            trainer.train(path)
            with open(path, "rb") as handle:
                self._set_model(handle.read())
        return self

    def _set_model(self, model: bytes) -> None:
        self.model_ = model
        tagger = self._tagger()
        labels = list(tagger.labels())
        # "O" first, then the entity tags in a stable order
        self.classes_ = [OUTSIDE] * (OUTSIDE in labels) + sorted(label for label in labels if label != OUTSIDE)

    def _tagger(self) -> pycrfsuite.Tagger:
        if not hasattr(self, "model_"):
            raise NotFittedError("the CRF tagger is not fitted")
        tagger = pycrfsuite.Tagger()  # one per call: crfsuite taggers are not thread-safe
        tagger.open_inmemory(self.model_)
        return tagger

    def to_bytes(self) -> bytes:
        if not hasattr(self, "model_"):
            raise NotFittedError("the CRF tagger is not fitted")
        return self.model_

    @classmethod
    def from_bytes(cls, model: bytes, **params: float) -> CrfTagger:
        tagger = cls(**params)  # type: ignore[arg-type]
        tagger._set_model(bytes(model))
        return tagger

    def decode(self, sentences: Sequence[list[str]], *, marginals: bool = True) -> list[SequencePrediction]:
        """Viterbi path, its probability and the per-token marginals of every sentence.

        ``marginals=False`` leaves them out (an empty ``(n_tokens, 0)`` array): the path-based uncertainties
        (MNLP, least confidence) need only the path probability, and the marginals are most of the time.
        """
        tagger = self._tagger()
        classes = self.classes_
        out: list[SequencePrediction] = []
        for words in sentences:
            if not words:
                out.append(SequencePrediction([], 1.0, np.zeros((0, len(classes)))))
                continue
            tagger.set(pycrfsuite.ItemSequence(sentence_features(list(words))))
            path = list(tagger.tag())
            if marginals:
                rows = np.array([[tagger.marginal(label, t) for label in classes] for t in range(len(words))])
                rows = rows / np.clip(rows.sum(axis=1, keepdims=True), 1e-12, None)
            else:
                rows = np.zeros((len(words), 0))
            out.append(SequencePrediction(path, float(tagger.probability(path)), rows))
        return out

    def predict(self, sentences: Sequence[list[str]]) -> list[list[str]]:
        return [prediction.tags for prediction in self.decode(sentences, marginals=False)]

    def predict_marginals(self, sentences: Sequence[list[str]]) -> list[np.ndarray]:
        return [prediction.marginals for prediction in self.decode(sentences)]
