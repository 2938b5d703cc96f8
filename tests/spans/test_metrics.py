"""Entity-level exact match, as seqeval defines it."""

from __future__ import annotations

import pytest

from labelsieve.spans.bio import tags_to_spans, token_spans
from labelsieve.spans.evaluation import entity_scores
from labelsieve.spans.tokens import tokenize


def test_seqeval_readme_example() -> None:
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scores = entity_scores(y_true, y_pred)
    assert scores.precision == pytest.approx(0.5)
    assert scores.recall == pytest.approx(0.5)
    assert scores.f1 == pytest.approx(0.5)
    assert scores.per_type["PER"]["f1"] == pytest.approx(1.0)
    assert scores.per_type["MISC"]["f1"] == pytest.approx(0.0)


def test_partial_overlap_and_wrong_type_do_not_count() -> None:
    # true: PER(0-1), LOC(3); pred: PER(0) only (boundary wrong), ORG(3) (type wrong), LOC(5) (spurious)
    y_true = [["B-PER", "I-PER", "O", "B-LOC", "O", "O"]]
    y_pred = [["B-PER", "O", "O", "B-ORG", "O", "B-LOC"]]
    scores = entity_scores(y_true, y_pred)
    assert scores.precision == 0.0 and scores.recall == 0.0 and scores.f1 == 0.0


def test_counts_by_hand() -> None:
    y_true = [["B-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O"], ["O", "B-PER"]]
    y_pred = [["B-PER", "O", "B-LOC", "I-LOC"], ["O", "O"], ["B-LOC", "B-PER"]]
    scores = entity_scores(y_true, y_pred)
    # 4 true entities, 4 predicted, 3 exact matches
    assert scores.precision == pytest.approx(3 / 4)
    assert scores.recall == pytest.approx(3 / 4)
    assert scores.f1 == pytest.approx(3 / 4)


def test_chunking_of_an_I_after_O_starts_an_entity() -> None:
    # seqeval's default mode: I-X after O opens an entity, a type change closes one
    assert [(s.first, s.last, s.label) for s in token_spans(["O", "I-PER", "I-PER", "I-LOC", "O"])] == [
        (1, 2, "PER"), (3, 3, "LOC")]
    text = "New York is big"
    spans = tags_to_spans(tokenize(text), ["B-LOC", "I-LOC", "O", "O"])
    assert [(text[s.start:s.end], s.label) for s in spans] == [("New York", "LOC")]
