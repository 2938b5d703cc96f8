"""Cold start's text vectors, kept in the service's text-feature store: a round encodes only texts it has not seen.

A text pool is ranked cold on TF-IDF (the text learner's own token counts, :data:`TOKEN_COUNTS`) reduced by a
truncated SVD and L2-normalised. Fitting that on the whole pool every time the pool or the labels changed made each
cold round cost O(pool). :class:`ColdTextFeatures` fits the *basis* (vocabulary, idf, SVD components) once per project
and keeps each text's vector in the text-feature store (:class:`~labelsieve.learners.embedding_cache.EmbeddingCache`,
the one :class:`~labelsieve.service.text_features.TextFeatures` reads through; in memory and on disk under
``<data_dir>/embeddings``), under the key ``cold-tfidf-svd/project-<id>``. A later round projects only the texts the
store lacks (new tasks), so its cost grows with what changed.

The basis is fitted again, and the project's stored vectors dropped, when the texts outgrew it (more than
``refit_growth`` times the texts it was fitted on: the first head of a first contact is ranked from the first page,
the full pool then gets its own basis) and after a restart (the basis lives in memory). Counters: ``fits`` (bases
fitted) and ``projected`` (texts run through a basis), for tests and the log.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from labelsieve.learners.embedding_cache import EmbeddingCache
from labelsieve.learners.token_counts import TOKEN_COUNTS, Analyzer


@dataclass(frozen=True)
class ColdBasis:
    """What turns a text into its cold vector: the TF-IDF vocabulary and idf, and the SVD's components."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    components: np.ndarray  # (n_components, n_terms)
    fitted_on: int  # distinct texts the basis was fitted on

    def project(self, analyzer: Analyzer, texts: Sequence[str]) -> np.ndarray:
        tfidf = TOKEN_COUNTS.transform(analyzer, texts, self.vocabulary, self.idf)
        return normalize(np.asarray(tfidf @ self.components.T)).astype(np.float32)


def fit_basis(analyzer: Analyzer, texts: Sequence[str], *, svd_components: int, max_features: int,
              seed: int) -> tuple[ColdBasis, np.ndarray]:
    """A basis fitted on ``texts`` and their vectors (one row per text)."""
    fitted = TOKEN_COUNTS.fit_transform(analyzer, texts, max_features=max_features)
    tfidf = fitted.matrix
    n_comp = max(1, min(svd_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1))
    svd = TruncatedSVD(n_components=n_comp, random_state=seed)
    reduced = svd.fit_transform(tfidf)
    basis = ColdBasis(fitted.vocabulary, fitted.idf, svd.components_, len(set(texts)))
    return basis, normalize(reduced).astype(np.float32)


class ColdTextFeatures:
    """``vectors(project_id, texts, seed)``: the cold vectors of ``texts`` (see the module docstring)."""

    def __init__(self, *, cache: EmbeddingCache, svd_components: int = 64, ngram_max: int = 2,
                 max_features: int = 50_000, refit_growth: float = 2.0) -> None:
        self.cache = cache
        self.svd_components = svd_components
        self.ngram_max = ngram_max
        self.max_features = max_features
        self.refit_growth = refit_growth
        self.fits = 0
        self.projected = 0
        self._bases: dict[int, ColdBasis] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(project_id: int) -> str:
        return f"cold-tfidf-svd/project-{int(project_id)}"

    def vectors(self, project_id: int, texts: Sequence[str], *, seed: int) -> np.ndarray:
        analyzer = Analyzer(self.ngram_max)
        strings = [str(t) for t in texts]
        key = self.key(project_id)
        with self._lock:
            basis = self._bases.get(project_id)
        distinct = len(set(strings))
        if basis is None or distinct > self.refit_growth * basis.fitted_on:
            basis, fresh = fit_basis(analyzer, strings, svd_components=self.svd_components,
                                     max_features=self.max_features, seed=seed)
            self.cache.forget(key)  # vectors of the old basis live in another space
            with self._lock:
                self._bases[project_id] = basis
                self.fits += 1
            first = dict(zip(strings, fresh, strict=True))
            # stored (rounded as the store rounds them), so the next round projects only the new texts
            return self.cache.encode(key, strings, lambda todo: np.stack([first[t] for t in todo]))
        return self.cache.encode(key, strings, lambda todo: self._project(basis, analyzer, todo))

    def _project(self, basis: ColdBasis, analyzer: Analyzer, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.projected += len(texts)
        return basis.project(analyzer, texts)
