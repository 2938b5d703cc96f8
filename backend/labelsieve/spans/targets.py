"""What one annotation or one model output is for a span project (no Label Studio or service knowledge)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from labelsieve.spans.bio import RejectedSpan, Span, spans_to_tags, tags_to_spans
from labelsieve.spans.crf import SequencePrediction
from labelsieve.spans.tokens import Token, tokenize


@dataclass(frozen=True)
class SpanTarget:
    """One annotation's spans (with the text Label Studio says each covers) and, when known, the task's text.

    ``rejected`` holds regions refused without needing the text (no offsets, several labels, unknown label);
    offsets that do not reproduce the text are found by :meth:`tags` once the text is known."""

    spans: tuple[tuple[Span, str | None], ...]
    text: str | None = None
    rejected: tuple[RejectedSpan, ...] = field(default=())

    def tags(self, text: str | None = None, tokens: list[Token] | None = None) -> tuple[list[str],
                                                                                       list[RejectedSpan]]:
        """BIO tags over ``tokens`` of ``text`` (default: this target's text, tokenised) and the spans refused."""
        body = text if text is not None else self.text
        if body is None:
            raise ValueError("the span target has no text: pass the task's text")
        return spans_to_tags(body, tokens if tokens is not None else tokenize(body), list(self.spans))

    def __iter__(self) -> Iterator[str]:
        """The entity labels of the spans (per-label counts for the class gauges)."""
        return iter(span.label for span, _ in self.spans)

    def n_tokens(self) -> int:
        return len(tokenize(self.text)) if self.text is not None else 0


@dataclass(frozen=True)
class SpanOutput:
    """The model's view of one task: the text, its tokens, the CRF's path/marginals and the tag classes."""

    text: str
    tokens: list[Token]
    prediction: SequencePrediction
    classes: tuple[str, ...]

    @property
    def confidence(self) -> float:
        """P(the whole predicted tag path is right): what the pre-annotation gate compares with its threshold."""
        return self.prediction.path_probability

    def spans(self) -> list[Span]:
        return tags_to_spans(self.tokens, self.prediction.tags)

    def as_target(self) -> SpanTarget:
        return SpanTarget(tuple((span, self.text[span.start:span.end]) for span in self.spans()), self.text)
