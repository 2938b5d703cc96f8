"""Label Studio ``labels`` results <-> spans, with offsets that reproduce the text exactly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelsieve.spans.bio import RejectedSpan, Span, spans_to_tags, token_spans
from labelsieve.spans.crf import SequencePrediction
from labelsieve.spans.tokens import Token
from labelsieve.spans.uncertainty import entity_confidences


def prediction_results(text: str, tokens: list[Token], prediction: SequencePrediction, classes: Sequence[str], *,
                       from_name: str, to_name: str) -> list[dict[str, Any]]:
    """One Label Studio region per predicted entity, each with its confidence as ``score``."""
    if len(tokens) != len(prediction.tags):
        raise ValueError(f"{len(tokens)} tokens but {len(prediction.tags)} predicted tags")
    results: list[dict[str, Any]] = []
    spans = token_spans(prediction.tags)
    for span, confidence in zip(spans, entity_confidences(prediction, classes), strict=True):
        start, end = tokens[span.first].start, tokens[span.last].end
        results.append({
            "id": f"ls-{span.first}-{span.last}",
            "from_name": from_name,
            "to_name": to_name,
            "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [span.label]},
            "score": round(float(confidence), 6),
        })
    return results


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def result_spans(result: list[Any] | None, from_name: str) -> tuple[list[tuple[Span, str | None]],
                                                                    list[RejectedSpan]]:
    """The spans of our ``Labels`` control in an annotation's ``result``; malformed regions come back refused."""
    spans: list[tuple[Span, str | None]] = []
    rejected: list[RejectedSpan] = []
    for region in result or []:
        if not isinstance(region, dict) or region.get("from_name") != from_name:
            continue
        if region.get("type", "labels") != "labels":
            continue
        value = region.get("value") if isinstance(region.get("value"), dict) else {}
        start, end = _int(value.get("start")), _int(value.get("end"))
        labels = [label for label in value.get("labels") or [] if isinstance(label, str)]
        quoted = value.get("text") if isinstance(value.get("text"), str) else None
        if start is None or end is None:
            rejected.append(RejectedSpan(Span(-1, -1, labels[0] if labels else ""),
                                         "the region has no integer start/end character offsets"))
            continue
        if len(labels) != 1:
            rejected.append(RejectedSpan(Span(start, end, ",".join(labels)),
                                         f"the region has {len(labels)} labels; a span takes exactly one"))
            continue
        spans.append((Span(start, end, labels[0]), quoted))
    return spans, rejected


def annotation_tags(text: str, tokens: list[Token], result: list[Any] | None, *, from_name: str,
                    labels: Sequence[str]) -> tuple[list[str], list[RejectedSpan]]:
    """BIO tags of one annotation; spans with bad offsets, unknown labels or overlaps are refused with a reason."""
    spans, rejected = result_spans(result, from_name)
    known: list[tuple[Span, str | None]] = []
    for span, quoted in spans:
        if span.label not in labels:
            rejected.append(RejectedSpan(span, f"label {span.label!r} is not a <Label> of the config"))
        else:
            known.append((span, quoted))
    tags, refused = spans_to_tags(text, tokens, known)
    return tags, rejected + refused
