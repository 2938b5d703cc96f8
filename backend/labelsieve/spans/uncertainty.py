"""Sentence-level uncertainty from a CRF's Viterbi path and token marginals (higher = label sooner).

- ``least_confidence``: 1 - P(best path). Grows with sentence length (more tokens, smaller path probability).
- ``mnlp``: -(1/T) log P(best path), Shen et al. 2017's length-normalised form.
- ``total_entropy`` / ``mean_entropy``: sum / mean over tokens of the marginal entropy (Settles & Craven 2008).
- ``entity_min`` / ``entity_mean``: 1 - the lowest / mean confidence of the predicted entities, where an
  entity's confidence is the mean marginal of its predicted tags (how flair and huggingface_ner score a span).

The entity-level forms say nothing about a sentence with no predicted entity; ``no_entity`` decides it:
``outside_uncertainty`` scores it by its tokens' chance of not being "O" (max over tokens of 1 - P(O)), so a
sentence where the model half-sees an entity comes early; ``last`` serves it after every sentence with an entity
(Label Studio's flair / gliner examples: score 2.0, lowest served first); ``first`` before all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelsieve.spans.bio import OUTSIDE, token_spans
from labelsieve.spans.crf import SequencePrediction

AGGREGATIONS = ("mnlp", "least_confidence", "total_entropy", "mean_entropy", "entity_min", "entity_mean")
NO_ENTITY_RULES = ("outside_uncertainty", "last", "first")
_TINY = 1e-12


def entity_confidences(prediction: SequencePrediction, classes: Sequence[str]) -> list[float]:
    """Confidence of each predicted entity: the mean marginal of its predicted tags."""
    index = {label: k for k, label in enumerate(classes)}
    confidences: list[float] = []
    for span in token_spans(prediction.tags):
        rows = range(span.first, span.last + 1)
        confidences.append(float(np.mean([prediction.marginals[t, index[prediction.tags[t]]] for t in rows])))
    return confidences


def _entropy(marginals: np.ndarray) -> np.ndarray:
    p = np.clip(marginals, _TINY, 1.0)
    return -(p * np.log(p)).sum(axis=1)


def _no_entity_score(prediction: SequencePrediction, classes: Sequence[str], rule: str) -> float:
    if rule == "last":
        return -1.0
    if rule == "first":
        return 2.0
    if OUTSIDE not in classes:
        return 1.0
    return float(np.max(1.0 - prediction.marginals[:, list(classes).index(OUTSIDE)]))


def sentence_uncertainty(prediction: SequencePrediction, classes: Sequence[str], aggregation: str = "mnlp",
                         no_entity: str = "outside_uncertainty") -> float:
    """One sentence's uncertainty under ``aggregation`` (see the module docstring)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")
    if no_entity not in NO_ENTITY_RULES:
        raise ValueError(f"unknown no-entity rule {no_entity!r}; choose one of {', '.join(NO_ENTITY_RULES)}")
    n_tokens = len(prediction.tags)
    if n_tokens == 0:
        return 0.0
    if aggregation == "least_confidence":
        return 1.0 - prediction.path_probability
    if aggregation == "mnlp":
        return float(-np.log(max(prediction.path_probability, _TINY)) / n_tokens)
    if aggregation in ("total_entropy", "mean_entropy"):
        entropy = _entropy(prediction.marginals)
        return float(entropy.sum() if aggregation == "total_entropy" else entropy.mean())
    confidences = entity_confidences(prediction, classes)
    if not confidences:
        return _no_entity_score(prediction, classes, no_entity)
    return 1.0 - (min(confidences) if aggregation == "entity_min" else float(np.mean(confidences)))


def pool_uncertainty(predictions: Sequence[SequencePrediction], classes: Sequence[str], aggregation: str = "mnlp",
                     no_entity: str = "outside_uncertainty") -> np.ndarray:
    """``sentence_uncertainty`` for every sentence of a pool, as a float64 array."""
    return np.array([sentence_uncertainty(p, classes, aggregation, no_entity) for p in predictions],
                    dtype=np.float64)
