"""Text classification: TF-IDF + logistic regression, or sentence embeddings from a local model.

``embed`` returns a dense L2-normalised vector per text: a truncated SVD of the TF-IDF matrix
(fitted on the labelled and, when given, the unlabelled texts), or the sentence embedding when
``embedding_model`` points at a locally installed sentence-transformers model directory.

The TF-IDF features are those of scikit-learn's ``TfidfVectorizer`` (the saved model stores its vocabulary and
idf), built from n-gram counts kept between rounds (:mod:`labelsieve.learners.token_counts`): a round tokenises
only the texts no earlier round of the process saw, and the SVD is refitted only when the corpus changed
(:mod:`labelsieve.learners.svd_cache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from labelsieve.learners.base import BaseLearner, check_training_labels
from labelsieve.learners.embedding_cache import EMBEDDINGS
from labelsieve.learners.linear import LinearHead
from labelsieve.learners.svd_cache import SVDS, corpus_key
from labelsieve.learners.text_models import encode_with, load_encoder
from labelsieve.learners.token_counts import TOKEN_COUNTS, Analyzer
from labelsieve.storage.artifacts import read_arrays, read_json, write_arrays, write_json


class TextLearner(BaseLearner):
    input_kind: ClassVar[str] = "text"

    def __init__(
        self,
        *,
        C: float = 10.0,
        ngram_max: int = 2,
        max_features: int = 50_000,
        svd_components: int = 64,
        class_weight: str | None = None,
        embedding_model: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.ngram_max = ngram_max
        self.max_features = max_features
        self.svd_components = svd_components
        self.class_weight = class_weight
        self.embedding_model = embedding_model
        self.random_state = random_state

    # ------------------------------------------------------------------ features
    def _encoder(self) -> Any:
        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            encoder = load_encoder(str(self.embedding_model))
            self.encoder_ = encoder
        return encoder

    def _encode(self, texts: list[str]) -> np.ndarray:
        return encode_with(self._encoder(), texts)

    def _features(self, texts: Sequence[str]) -> Any:
        texts = [str(t) for t in texts]
        if self.embedding_model:
            vectors = EMBEDDINGS.encode(str(self.embedding_model), texts, self._encode)
            return normalize(np.asarray(vectors, dtype=np.float32))
        return TOKEN_COUNTS.transform(Analyzer(self.ngram_max), texts, self.vectorizer_.vocabulary,
                                      self.vectorizer_.idf_)

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        X: Sequence[Any],
        y: Sequence[str],
        *,
        sample_weight: np.ndarray | None = None,
        unlabeled: Sequence[Any] | None = None,
    ) -> Self:
        classes = check_training_labels(y)
        texts = [str(t) for t in X]
        corpus = texts + [str(t) for t in (unlabeled or [])]
        if self.embedding_model:
            features = self._features(texts)
        else:
            # TfidfVectorizer's fit_transform from cached counts: only texts not seen before are tokenised; the
            # labelled texts are the first rows
            fitted = TOKEN_COUNTS.fit_transform(Analyzer(self.ngram_max), corpus, max_features=self.max_features)
            self.vectorizer_ = _vectorizer(self.ngram_max, fitted.vocabulary, fitted.idf)
            tfidf = fitted.matrix
            n_comp = max(1, min(self.svd_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1))
            key = corpus_key(corpus, self.ngram_max, self.max_features, n_comp, self.random_state)
            self.svd_ = SVDS.fit(key, lambda: TruncatedSVD(n_components=n_comp, random_state=self.random_state)
                                 .fit(tfidf))  # the corpus of the last round, in another order: its SVD serves
            features = tfidf[: len(texts)]
        index = {label: i for i, label in enumerate(classes)}
        y_index = np.array([index[label] for label in y])
        self.head_ = LinearHead.fit(
            features, y_index, len(classes), C=self.C, class_weight=self.class_weight,
            sample_weight=sample_weight, max_iter=2000, random_state=self.random_state,
        )
        self.classes_ = classes
        return self

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        return self.head_.predict_proba(self._features(X))

    def features(self, X: Sequence[Any]) -> Any:
        """The classifier's input (TF-IDF rows or sentence embeddings): what multi-label heads are fitted on."""
        self.check_fitted()
        return self._features(X)

    def embed(self, X: Sequence[Any]) -> np.ndarray:
        self.check_fitted()
        if len(X) == 0:
            return np.zeros((0, 1), dtype=np.float32)
        return self._embedding(self._features(X))

    def infer(self, X: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embeddings from one tokenisation of ``X`` (a ranking round needs both)."""
        self.check_fitted()
        if len(X) == 0:
            return self.predict_proba(X), self.embed(X)
        features = self._features(X)
        return self.head_.predict_proba(features), self._embedding(features)

    def _embedding(self, features: Any) -> np.ndarray:
        if self.embedding_model:
            return np.asarray(features, dtype=np.float32)
        return normalize(self.svd_.transform(features)).astype(np.float32)

    # -------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        self.check_fitted()
        arrays = {"coef": self.head_.coef, "intercept": self.head_.intercept}
        meta: dict[str, Any] = {"classes": self.classes_, "params": self.get_params()}
        if not self.embedding_model:
            arrays["idf"] = self.vectorizer_.idf_.astype(np.float64)
            arrays["svd_components"] = self.svd_.components_.astype(np.float32)
            meta["vocabulary"] = {term: int(i) for term, i in self.vectorizer_.vocabulary.items()}
        write_arrays(directory / "text.safetensors", arrays)
        write_json(directory / "text.json", meta)

    @classmethod
    def load(cls, directory: Path) -> Self:
        meta = read_json(directory / "text.json")
        arrays = read_arrays(directory / "text.safetensors")
        learner = cls(**meta["params"])
        learner.classes_ = list(meta["classes"])
        learner.head_ = LinearHead(coef=arrays["coef"], intercept=arrays["intercept"])
        if not learner.embedding_model:
            learner.vectorizer_ = _vectorizer(learner.ngram_max, dict(meta["vocabulary"]), arrays["idf"])
            svd = TruncatedSVD(n_components=arrays["svd_components"].shape[0])
            svd.components_ = arrays["svd_components"]
            learner.svd_ = svd
        return learner


def _vectorizer(ngram_max: int, vocabulary: dict[str, int], idf: np.ndarray) -> TfidfVectorizer:
    """The fitted ``TfidfVectorizer`` of ``vocabulary`` and ``idf`` (what is saved; its ``transform`` gives the
    features :mod:`~labelsieve.learners.token_counts` builds)."""
    vectorizer = TfidfVectorizer(ngram_range=(1, ngram_max), sublinear_tf=True, vocabulary=vocabulary)
    vectorizer.idf_ = idf
    return vectorizer
