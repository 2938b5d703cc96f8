"""Span data sets: CoNLL-style BIO files (told apart by content, not suffix) and Label Studio JSON exports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from labelsieve.spans.bio import RejectedSpan, Span, spans_to_tags
from labelsieve.spans.results import result_spans
from labelsieve.spans.tokens import Token, join_tokens, tokenize

_TAG = re.compile(r"^(O|[BIES]-\S+)$")
_DOCSTART = "-DOCSTART-"


class SpanDataError(ValueError):
    """A BIO file or span export that cannot be read; the message says where and why."""


@dataclass
class Sentence:
    """One task: its text, tokens with offsets, and gold BIO tags (one per token)."""

    text: str
    tokens: list[Token]
    tags: list[str]
    rejected: list[RejectedSpan] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return [token.text for token in self.tokens]


def _fields(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def looks_like_bio(text: str) -> bool:
    """True when every non-blank line is ``token<tab or spaces>...tag`` with a BIO/IOBES or O tag last."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_DOCSTART)]
    if not lines:
        return False
    return all(len(parts) >= 2 and _TAG.match(parts[-1].strip()) for parts in map(_fields, lines))


def read_bio(text: str, *, name: str = "BIO file") -> list[Sentence]:
    """Sentences of a CoNLL-style file: token first, tag last on each line, a blank line between sentences."""
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []

    def close() -> None:
        if words:
            joined, tokens = join_tokens(words)
            sentences.append(Sentence(joined, tokens, list(tags)))
        words.clear()
        tags.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(_DOCSTART):
            close()
            continue
        parts = [part.strip() for part in _fields(line)]
        if len(parts) < 2 or not _TAG.match(parts[-1]) or not parts[0]:
            raise SpanDataError(f"{name} line {number}: expected 'token<TAB>tag' with a tag such as O, B-PER "
                                f"or I-PER, got {raw[:80]!r}")
        words.append(parts[0])
        tags.append(parts[-1])
    close()
    if not sentences:
        raise SpanDataError(f"{name} holds no tagged token")
    return sentences


def _text_key(data: dict[str, Any], to_name: str | None, data_key: str | None) -> str:
    if data_key is not None:
        return data_key
    strings = [key for key, value in data.items() if isinstance(value, str)]
    for candidate in (to_name, "text"):
        if candidate in strings:
            return candidate
    if len(strings) == 1:
        return strings[0]
    raise SpanDataError(f"cannot tell which task field holds the text among {sorted(strings)}; name it")


def read_ls_export(tasks: list[Any], *, data_key: str | None = None,
                   from_name: str | None = None) -> list[Sentence]:
    """Labelled sentences of a Label Studio JSON export with ``labels`` regions on a text field.

    The latest non-cancelled annotation of each task is used. Bad spans are refused with a reason (kept on the
    sentence's ``rejected``), the other spans applied; a task without a text field raises naming the task.
    """
    if not isinstance(tasks, list):
        raise SpanDataError("a Label Studio export is a JSON list of tasks")
    sentences: list[Sentence] = []
    for position, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise SpanDataError(f"task #{position} has no 'data' object")
        annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not annotations:
            continue
        result = annotations[-1].get("result") or []
        regions = [r for r in result if isinstance(r, dict) and r.get("type") == "labels"]
        control = from_name or (regions[0].get("from_name") if regions else None)
        key = _text_key(task["data"], regions[0].get("to_name") if regions else None, data_key)
        text = task["data"].get(key)
        if not isinstance(text, str):
            raise SpanDataError(f"task {task.get('id', position)} has no text field {key!r}")
        tokens = tokenize(text)
        spans, rejected = result_spans(result, control) if control else ([], [])
        tags, refused = spans_to_tags(text, tokens, spans)
        if tokens:
            sentences.append(Sentence(text, tokens, tags, rejected + refused))
    if not sentences:
        raise SpanDataError("the export holds no annotated task with text")
    return sentences


def entity_labels(sentences: list[Sentence]) -> list[str]:
    """The entity types used in ``sentences``, sorted."""
    return sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"})


__all__ = ["Sentence", "SpanDataError", "Span", "entity_labels", "looks_like_bio", "read_bio", "read_ls_export"]
