"""Bad spans in an annotation are refused one by one with a reason; the good ones are kept."""

from __future__ import annotations

from labelsieve.spans.results import annotation_tags
from labelsieve.spans.tokens import tokenize

TEXT = "Anna met Bob in Rome today"


def region(start: object, end: object, text: str | None, labels: list[str]) -> dict:
    value: dict = {"start": start, "end": end, "labels": labels}
    if text is not None:
        value["text"] = text
    return {"from_name": "ner", "to_name": "text", "type": "labels", "value": value}


def test_bad_spans_are_rejected_and_the_rest_kept() -> None:
    result = [
        region(0, 4, "Anna", ["PER"]),  # good
        region(9, 12, "Bib", ["PER"]),  # offsets do not reproduce the quoted text
        region(16, 20, "Rome", ["LOC"]),  # good
        region(17, 22, "ome t", ["LOC"]),  # overlaps Rome
        region(5, 5, "", ["PER"]),  # empty
        region(20, 99, None, ["LOC"]),  # outside the text
        region(21, 26, "today", ["DATE"]),  # not a label of the config
        region("3", 8, None, ["PER"]),  # not integer offsets
        region(9, 12, "Bob", ["PER", "LOC"]),  # two labels on one span
        {"from_name": "other", "type": "choices", "value": {"choices": ["x"]}},  # another control: ignored
    ]
    tokens = tokenize(TEXT)
    tags, rejected = annotation_tags(TEXT, tokens, result, from_name="ner", labels=["PER", "LOC"])
    assert tags == ["B-PER", "O", "O", "O", "B-LOC", "O"]
    reasons = " | ".join(r.reason for r in rejected)
    assert len(rejected) == 7, reasons
    assert "'Bib'" in reasons and "'Bob'" in reasons
    assert "overlaps" in reasons
    assert "empty" in reasons
    assert "outside the text" in reasons
    assert "'DATE' is not a <Label>" in reasons
    assert "integer" in reasons
    assert "2 labels" in reasons


def test_span_of_only_spaces_is_rejected() -> None:
    text = "a    b"
    tags, rejected = annotation_tags(text, tokenize(text), [region(2, 4, "  ", ["PER"])], from_name="ner",
                                     labels=["PER"])
    assert tags == ["O", "O"]
    assert [r.reason for r in rejected] == ["the span covers no token (only spaces)"]
