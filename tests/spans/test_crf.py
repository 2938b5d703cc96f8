"""The CRF learns entities, gives token marginals and survives a save/load through its own model file."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.spans.crf import CrfTagger, NotFittedError
from labelsieve.spans.evaluation import entity_scores
from labelsieve.tasktypes.token_issues import find_token_issues
from tests.spans.corpus import make_corpus


@pytest.fixture(scope="module")
def fitted() -> CrfTagger:
    sentences, tags = make_corpus(120, seed=1)
    return CrfTagger(max_iterations=60).fit(sentences, tags)


def test_learns_unseen_combinations(fitted: CrfTagger) -> None:
    sentences, tags = make_corpus(60, seed=2)
    scores = entity_scores(tags, fitted.predict(sentences))
    assert scores.f1 > 0.9
    assert fitted.classes_[0] == "O" and set(fitted.classes_) == {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}


def test_marginals_are_distributions_that_agree_with_the_path(fitted: CrfTagger) -> None:
    sentences, _ = make_corpus(10, seed=3)
    for prediction, words in zip(fitted.decode(sentences), sentences, strict=True):
        assert prediction.marginals.shape == (len(words), len(fitted.classes_))
        np.testing.assert_allclose(prediction.marginals.sum(axis=1), 1.0, atol=1e-6)
        assert 0.0 < prediction.path_probability <= 1.0
        # the path probability never exceeds any single token's marginal of its tag
        chosen = [prediction.marginals[t, fitted.classes_.index(tag)] for t, tag in enumerate(prediction.tags)]
        assert prediction.path_probability <= min(chosen) + 1e-6


def test_save_and_load_give_the_same_predictions(fitted: CrfTagger) -> None:
    sentences, _ = make_corpus(15, seed=4)
    loaded = CrfTagger.from_bytes(fitted.to_bytes())
    assert loaded.classes_ == fitted.classes_
    assert loaded.predict(sentences) == fitted.predict(sentences)
    for a, b in zip(loaded.predict_marginals(sentences), fitted.predict_marginals(sentences), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_unfitted_and_empty_inputs_fail_clearly() -> None:
    with pytest.raises(NotFittedError):
        CrfTagger().predict([["a"]])
    with pytest.raises(ValueError, match="no sentence"):
        CrfTagger().fit([[]], [[]])


def test_cleanlab_flags_the_corrupted_sentences(fitted: CrfTagger) -> None:
    sentences, tags = make_corpus(80, seed=5)
    corrupted = [3, 17, 42]
    for i in corrupted:
        first_entity = next(t for t, tag in enumerate(tags[i]) if tag.startswith("B-"))
        tags[i][first_entity] = "O"  # an annotator missed an entity's first token
    issues = find_token_issues(tags, fitted.predict_marginals(sentences), fitted.classes_)
    flagged_sentences = {i for i, _ in issues.flagged_tokens}
    assert set(corrupted) <= flagged_sentences
    worst = set(np.argsort(issues.sentence_quality)[: len(corrupted)].tolist())
    assert worst == set(corrupted)
    assert issues.suggested[3][next(t for t, tag in enumerate(make_corpus(80, seed=5)[1][3]) if tag != "O")] != "O"
