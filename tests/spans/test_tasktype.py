"""The ``ner`` task type through the contract: discovery, targets, regions, uncertainty, metrics, issues, cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.learners.spans import CrfSpanLearner
from labelsieve.registry import get_registry
from labelsieve.spans.bio import tags_to_spans
from labelsieve.spans.targets import SpanTarget
from labelsieve.spans.tokens import join_tokens
from labelsieve.tasktypes import get_task_type, task_type_for
from tests.spans.corpus import make_corpus

NER = ('<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
       '<Text name="text" value="$text"/></View>')


def targets_of(sentences: list[list[str]], tags: list[list[str]]) -> tuple[list[str], list[SpanTarget]]:
    texts, targets = [], []
    for words, sequence in zip(sentences, tags, strict=True):
        text, tokens = join_tokens(words)
        spans = tuple((span, text[span.start:span.end]) for span in tags_to_spans(tokens, sequence))
        texts.append(text)
        targets.append(SpanTarget(spans, text))
    return texts, targets


@pytest.fixture(scope="module")
def learner() -> CrfSpanLearner:
    texts, targets = targets_of(*make_corpus(100, seed=11))
    return CrfSpanLearner(max_iterations=50).fit(texts, targets)


def test_discovered_from_the_config_and_registered() -> None:
    served = task_type_for(NER)
    assert served.name == "ner" and served.task_type.unit == "tokens"
    assert served.config.labels == ("PER", "LOC") and served.config.data_key == "text"
    assert "crf" in get_registry("learners").names()
    assert served.task_type.default_learner(served.config, "text", {}) == ("crf", {})
    assert served.task_type.default_aggregation in served.task_type.aggregations


def test_hypertext_and_mixed_configs_are_refused_with_a_message() -> None:
    hyper = ('<View><Labels name="label" toName="html"><Label value="PER"/></Labels>'
             '<HyperText name="html" value="$html"/></View>')
    with pytest.raises(UnsupportedLabelConfig, match="HyperText spans are addressed by XPath"):
        task_type_for(hyper)
    mixed = NER.replace("</View>", '<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/>'
                                   '</Choices></View>')
    with pytest.raises(UnsupportedLabelConfig, match="Labels name='label'.*ner|ner.*Labels name='label'"):
        task_type_for(mixed)


def test_target_checks_offsets_against_the_task_text() -> None:
    served = task_type_for(NER)
    text = "Zoë  met Bob in Köln"
    result = [
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": 3, "text": "Zoë", "labels": ["PER"]}},
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 9, "end": 11, "text": "Bob", "labels": ["PER"]}},  # one short
        {"from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 16, "end": 20, "text": "Köln", "labels": ["CITY"]}},
    ]
    target = served.task_type.target(result, served.config, {"text": text})
    assert served.task_type.cost(target) == 5  # tokens: Zoë met Bob in Köln
    assert target.tags()[0] == ["B-PER", "O", "O", "O", "O"]
    reasons = [r.reason for r in served.task_type.rejected_spans(target, text)]
    assert len(reasons) == 2 and any("'Bo'" in r for r in reasons) and any("CITY" in r for r in reasons)
    assert served.task_type.target(None, served.config) is None
    assert served.task_type.target([], served.config, {"text": "nothing"}).spans == ()
    with pytest.raises(ValueError, match="BIO file"):
        served.task_type.target_from_cell("PER", served.config)


def test_regions_reproduce_text_and_follow_the_gate(learner: CrfSpanLearner) -> None:
    served = task_type_for(NER)
    texts = ["Yesterday  Ana Lopez flew to São Paulo 🎉 with friends .", "we ordered two coffees and a cake ."]
    outputs = learner.predict_regions(texts)
    regions = served.task_type.prediction_result(served.config, outputs[0], preannotate=True)
    assert {r["value"]["text"] for r in regions} == {"Ana Lopez", "São Paulo"}
    for region in regions:
        value = region["value"]
        assert texts[0][value["start"]:value["end"]] == value["text"]
        assert 0.0 < region["score"] <= 1.0 and region["from_name"] == "label" and region["to_name"] == "text"
    assert served.task_type.prediction_result(served.config, outputs[0], preannotate=False) == []
    assert served.task_type.prediction_result(served.config, outputs[1], preannotate=True) == []
    for name in served.task_type.aggregations:
        u = served.task_type.task_uncertainty(outputs, name)
        assert u.shape == (2,) and np.isfinite(u).all()
    with pytest.raises(ValueError, match="mnlp"):
        served.task_type.task_uncertainty(outputs, "nope")


def test_metrics_are_seqevals(learner: CrfSpanLearner) -> None:
    served = task_type_for(NER)
    texts, targets = targets_of(*make_corpus(40, seed=12))
    outputs = learner.predict_regions(texts)
    scores = served.task_type.metrics(targets, outputs, served.config.labels)
    assert scores["entity_f1"] > 0.9
    # a prediction missing one of two entities: precision 1, recall 1/2
    text, tokens = join_tokens(["Olga", "lives", "in", "Oslo"])
    gold = SpanTarget(tuple((s, None) for s in tags_to_spans(tokens, ["B-PER", "O", "O", "B-LOC"])), text)
    half = SpanTarget(tuple((s, None) for s in tags_to_spans(tokens, ["B-PER", "O", "O", "O"])), text)
    scores = served.task_type.metrics([gold], [half], served.config.labels)
    assert scores["entity_precision"] == 1.0 and scores["entity_recall"] == 0.5
    assert scores["entity_f1"] == pytest.approx(2 / 3)


def test_label_issues_find_the_missed_entity(learner: CrfSpanLearner) -> None:
    served = task_type_for(NER)
    sentences, tags = make_corpus(40, seed=13)
    bad = 7
    tags[bad] = ["O"] * len(tags[bad])  # an annotator marked nothing
    assert any(t != "O" for t in make_corpus(40, seed=13)[1][bad])
    texts, targets = targets_of(sentences, tags)
    issues = served.task_type.label_issues(targets, learner.predict_regions(texts), served.config.labels)
    assert issues.flagged[bad]
    assert int(np.argmax(issues.issue_score)) == bad
    assert issues.suggested[bad].spans


def test_learner_save_and_load(tmp_path: Path, learner: CrfSpanLearner) -> None:
    learner.save(tmp_path)
    assert not any(p.suffix in {".pkl", ".pickle", ".joblib"} for p in tmp_path.iterdir())
    loaded = CrfSpanLearner.load(tmp_path)
    texts, _ = targets_of(*make_corpus(10, seed=14))
    a, b = learner.predict_regions(texts), loaded.predict_regions(texts)
    assert [o.prediction.tags for o in a] == [o.prediction.tags for o in b]
    np.testing.assert_allclose([o.prediction.path_probability for o in a],
                               [o.prediction.path_probability for o in b], atol=1e-6)
    assert loaded.embed(texts).shape == (10, 256)
    assert get_task_type("ner").accepts_learner(loaded)
