"""Spans keep their exact text through tokenisation, prediction results and annotation read-back."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.spans.bio import Span, spans_to_tags, tags_to_spans
from labelsieve.spans.crf import SequencePrediction
from labelsieve.spans.results import annotation_tags, prediction_results
from labelsieve.spans.tokens import tokenize

TRICKY = [
    "Zoë   Müller met  José in São Paulo!!",
    "🎉🎉 Party at 🏠 with Ana (from N.Y.) — 3.5 km away…",
    "  leading spaces,trailing punctuation.  ",
    "「東京」で山田さんに会った。 Then Ξένη went home\ttabbed\nnew line",
    "👩‍👩‍👧 family of Dr. O'Neil-Smith's, e-mail: x@y.org",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tokens_reproduce_their_text(text: str) -> None:
    tokens = tokenize(text)
    assert tokens, text
    for token in tokens:
        assert text[token.start:token.end] == token.text
        assert token.text.strip() == token.text
    assert all(a.end <= b.start for a, b in zip(tokens, tokens[1:], strict=False))


@pytest.mark.parametrize("text", TRICKY)
def test_predicted_regions_round_trip_through_annotation(text: str) -> None:
    tokens = tokenize(text)
    rng = np.random.default_rng(len(text))
    classes = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    # an arbitrary valid BIO path over the tokens
    tags: list[str] = []
    for _ in tokens:
        kind = ("PER", "LOC")[int(rng.integers(2))]
        move = int(rng.integers(3))
        if move == 0 or not tags or tags[-1] == "O":
            tags.append("O" if move == 0 else f"B-{kind}")
        else:
            tags.append("I-" + tags[-1][2:])
    marginals = np.full((len(tokens), len(classes)), 0.05)
    for t, tag in enumerate(tags):
        marginals[t, classes.index(tag)] = 0.8
    prediction = SequencePrediction(tags, 0.5, marginals)
    results = prediction_results(text, tokens, prediction, classes, from_name="label", to_name="text")
    assert len(results) == len(tags_to_spans(tokens, tags))
    for region in results:
        value = region["value"]
        assert text[value["start"]:value["end"]] == value["text"]
        assert value["text"] == value["text"].strip() and value["text"]
        assert region["type"] == "labels" and region["to_name"] == "text"
        assert region["score"] == pytest.approx(0.8 / 1.0, abs=1e-6)
    back, rejected = annotation_tags(text, tokens, results, from_name="label", labels=["PER", "LOC"])
    assert rejected == []
    assert tags_to_spans(tokens, back) == tags_to_spans(tokens, tags)


def test_span_over_part_of_a_word_takes_the_whole_token() -> None:
    text = "Visit Barcelona now"
    tokens = tokenize(text)
    tags, rejected = spans_to_tags(text, tokens, [(Span(6, 12, "LOC"), "Barcel")])
    assert rejected == [] and tags == ["O", "B-LOC", "O"]
