"""BIO tags <-> character spans.

Chunking follows seqeval's default (non-strict) mode through ``seqeval.metrics.sequence_labeling.get_entities``:
an ``I-X`` after ``O`` or after another type starts a new entity, exactly as the entity-level metrics count it.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqeval.metrics.sequence_labeling import get_entities

from labelsieve.spans.tokens import Token

OUTSIDE = "O"


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of a text, labelled ``label``."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class TokenSpan:
    """Tokens ``first..last`` (inclusive) labelled ``label``."""

    first: int
    last: int
    label: str


@dataclass(frozen=True)
class RejectedSpan:
    span: Span
    reason: str


def token_spans(tags: list[str]) -> list[TokenSpan]:
    """The entities of a BIO (or IOBES) tag sequence, as seqeval chunks them."""
    return [TokenSpan(first, last, label) for label, first, last in get_entities(list(tags))]


def tags_to_spans(tokens: list[Token], tags: list[str]) -> list[Span]:
    """Character spans of the entities in ``tags`` (one tag per token)."""
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    return [Span(tokens[s.first].start, tokens[s.last].end, s.label) for s in token_spans(tags)]


def spans_to_tags(text: str, tokens: list[Token], spans: list[tuple[Span, str | None]]) -> tuple[list[str],
                                                                                                 list[RejectedSpan]]:
    """BIO tags for ``tokens`` from annotated spans, and the spans refused with the reason.

    Each span comes with the text the annotation says it covers (``value.text``; ``None`` when absent). A span is
    refused when its offsets fall outside the text, are empty, do not reproduce that text, cover no token, or
    overlap a span kept before it; the other spans are applied. A token partly covered by a span joins it (Label
    Studio lets a person select part of a word).
    """
    tags = [OUTSIDE] * len(tokens)
    rejected: list[RejectedSpan] = []
    for span, quoted in sorted(spans, key=lambda item: (item[0].start, item[0].end)):
        reason = _problem(text, span, quoted)
        covered = [i for i, t in enumerate(tokens) if t.start < span.end and t.end > span.start]
        if reason is None and not covered:
            reason = "the span covers no token (only spaces)"
        if reason is None and any(tags[i] != OUTSIDE for i in covered):
            reason = "the span overlaps another span of the same annotation"
        if reason is not None:
            rejected.append(RejectedSpan(span, reason))
            continue
        for position, i in enumerate(covered):
            tags[i] = ("B-" if position == 0 else "I-") + span.label
    return tags, rejected


def _problem(text: str, span: Span, quoted: str | None) -> str | None:
    if not span.label:
        return "the span has no label"
    if span.start < 0 or span.end > len(text):
        return f"offsets {span.start}..{span.end} fall outside the text ({len(text)} characters)"
    if span.end <= span.start:
        return f"the span is empty (start {span.start}, end {span.end})"
    if quoted is not None and text[span.start:span.end] != quoted:
        return (f"offsets {span.start}..{span.end} give {text[span.start:span.end]!r}, "
                f"but the annotation says {quoted!r}")
    return None
