"""Sentence uncertainty: the path-based forms, the entity forms and the rule for a sentence with no entity."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.spans.crf import SequencePrediction
from labelsieve.spans.uncertainty import AGGREGATIONS, pool_uncertainty, sentence_uncertainty

CLASSES = ["O", "B-PER", "I-PER"]


def prediction(tags: list[str], confident: list[float], path_probability: float) -> SequencePrediction:
    rows = []
    for tag, p in zip(tags, confident, strict=True):
        row = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1))
        row[CLASSES.index(tag)] = p
        rows.append(row)
    return SequencePrediction(tags, path_probability, np.array(rows))


def test_mnlp_removes_least_confidences_length_bias() -> None:
    short = prediction(["O", "O"], [0.9, 0.9], 0.81)
    long = prediction(["O"] * 40, [0.99] * 40, 0.99**40)
    assert sentence_uncertainty(long, CLASSES, "least_confidence") > sentence_uncertainty(short, CLASSES,
                                                                                           "least_confidence")
    assert sentence_uncertainty(short, CLASSES, "mnlp") > sentence_uncertainty(long, CLASSES, "mnlp")
    assert sentence_uncertainty(short, CLASSES, "mnlp") == pytest.approx(-np.log(0.81) / 2)


def test_entropy_forms() -> None:
    p = prediction(["O", "B-PER"], [0.5, 1.0], 0.5)
    h = -(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25))
    assert sentence_uncertainty(p, CLASSES, "total_entropy") == pytest.approx(h, abs=1e-6)
    assert sentence_uncertainty(p, CLASSES, "mean_entropy") == pytest.approx(h / 2, abs=1e-6)


def test_entity_forms_use_the_weakest_or_mean_entity() -> None:
    p = prediction(["B-PER", "I-PER", "O", "B-PER"], [0.9, 0.7, 0.99, 0.6], 0.3)
    assert sentence_uncertainty(p, CLASSES, "entity_min") == pytest.approx(1 - 0.6)
    assert sentence_uncertainty(p, CLASSES, "entity_mean") == pytest.approx(1 - (0.8 + 0.6) / 2)


def test_no_entity_rules() -> None:
    unsure_outside = prediction(["O", "O", "O"], [0.95, 0.55, 0.9], 0.4)  # token 2 nearly a name
    sure_outside = prediction(["O", "O", "O"], [0.99, 0.99, 0.99], 0.97)
    with_entity = prediction(["B-PER", "O"], [0.8, 0.99], 0.78)
    pool = [unsure_outside, sure_outside, with_entity]
    outside = pool_uncertainty(pool, CLASSES, "entity_min", "outside_uncertainty")
    assert outside[0] == pytest.approx(0.45) and outside[1] == pytest.approx(0.01)
    assert outside[0] > outside[2] > outside[1]  # the half-seen name outranks a fairly sure entity
    last = pool_uncertainty(pool, CLASSES, "entity_min", "last")
    assert last[2] > last[0] and last[2] > last[1]  # Label Studio examples: no entity -> served last
    first = pool_uncertainty(pool, CLASSES, "entity_min", "first")
    assert first[0] > first[2] and first[1] > first[2]


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_every_aggregation_is_finite_and_handles_empty_sentences(aggregation: str) -> None:
    pool = [prediction([], [], 1.0), prediction(["O"], [0.5], 0.5), prediction(["B-PER"], [1.0], 1.0)]
    scores = pool_uncertainty(pool, CLASSES, aggregation)
    assert np.isfinite(scores).all() and scores[0] == 0.0
    assert scores[1] > scores[2]


def test_unknown_names_are_refused() -> None:
    p = prediction(["O"], [0.5], 0.5)
    with pytest.raises(ValueError, match="mnlp"):
        sentence_uncertainty(p, CLASSES, "nope")
    with pytest.raises(ValueError, match="outside_uncertainty"):
        sentence_uncertainty(p, CLASSES, "mnlp", "nope")
