"""CoNLL-style BIO files are read by content, whatever the suffix; Label Studio exports give spans back."""

from __future__ import annotations

import pytest

from labelsieve.spans.readers import SpanDataError, entity_labels, looks_like_bio, read_bio, read_ls_export

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_reads_tab_separated_and_multi_column_files() -> None:
    tabbed = "John\tB-PER\nlives\tO\nin\tO\nNew\tB-LOC\nYork\tI-LOC\n\n\nHi\tO\n"
    sentences = read_bio(tabbed)
    assert [s.words for s in sentences] == [["John", "lives", "in", "New", "York"], ["Hi"]]
    assert sentences[0].tags == ["B-PER", "O", "O", "B-LOC", "I-LOC"]
    assert sentences[0].text == "John lives in New York"
    assert sentences[0].text[sentences[0].tokens[3].start:sentences[0].tokens[4].end] == "New York"

    conll = read_bio(CONLL_2003)
    assert [s.tags for s in conll] == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"]]
    assert entity_labels(conll) == ["MISC", "ORG", "PER"]


def test_detection_by_content() -> None:
    assert looks_like_bio(CONLL_2003)
    assert looks_like_bio("a  O\nb   B-X\n")
    assert not looks_like_bio("text,label\nhello,pos\n")
    assert not looks_like_bio("just some prose here\n")
    assert not looks_like_bio("")


def test_bad_line_names_its_number() -> None:
    with pytest.raises(SpanDataError, match="line 3"):
        read_bio("a\tO\nb\tB-X\nc\tNOTATAG\n")


def test_label_studio_export() -> None:
    tasks = [
        {"id": 1, "data": {"text": "Anna  flew to Köln 🎉"},
         "annotations": [{"was_cancelled": False, "result": [
             {"from_name": "ner", "to_name": "text", "type": "labels",
              "value": {"start": 0, "end": 4, "text": "Anna", "labels": ["PER"]}},
             {"from_name": "ner", "to_name": "text", "type": "labels",
              "value": {"start": 14, "end": 18, "text": "Köln", "labels": ["LOC"]}},
             {"from_name": "ner", "to_name": "text", "type": "labels",
              "value": {"start": 3, "end": 9, "text": "wrong!", "labels": ["LOC"]}}]}]},
        {"id": 2, "data": {"text": "no entity here"}, "annotations": [{"result": []}]},
        {"id": 3, "data": {"text": "skipped"}, "annotations": [{"was_cancelled": True, "result": []}]},
        {"id": 4, "data": {"text": "not labelled"}},
    ]
    sentences = read_ls_export(tasks)
    assert len(sentences) == 2
    assert sentences[0].tags == ["B-PER", "O", "O", "B-LOC", "O"]
    assert len(sentences[0].rejected) == 1 and "'wrong!'" in sentences[0].rejected[0].reason
    assert sentences[1].tags == ["O", "O", "O"]


def test_export_task_without_text_is_named() -> None:
    tasks = [{"id": 7, "data": {"text": 3, "other": 4}, "annotations": [{"result": []}]}]
    with pytest.raises(SpanDataError, match="task 7"):
        read_ls_export(tasks, data_key="text")
