"""``labelsieve simulate`` on named-entity data: a BIO file (any suffix) and a Label Studio span export."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from labelsieve.cli import app
from labelsieve.simulate.spans import SpanSimulationConfig, simulate_spans, span_dataset
from tests.spans.corpus import make_corpus, to_bio


def test_simulate_a_bio_file_counts_sentences_and_tokens(tmp_path: Path) -> None:
    sentences, tags = make_corpus(90, seed=21)
    path = tmp_path / "train.data"  # no telling suffix: detected by content
    path.write_text(to_bio(sentences, tags, separator="   "))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", "--dataset", str(path), "--strategies", "mnlp", "--seeds", "1",
                                      "--initial", "6", "--batch-size", "6", "--budget", "24", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "named entities: 90 sentences" in result.output and "mnlp" in result.output and "random" in result.output
    report = json.loads((out / "spans_report.json").read_text())
    assert report["unit"] == "tokens" and set(report["summary"]) == {"mnlp", "random"}
    for run in report["runs"]:
        assert [p["sentences"] for p in run["curve"]] == [6, 12, 18, 24]
        tokens = [p["tokens"] for p in run["curve"]]
        assert tokens == sorted(tokens) and tokens[0] >= 6 * 3  # the shortest frame has 3 tokens
        assert 0.0 <= run["curve"][-1]["entity_f1"] <= 1.0
    assert report["full_f1"] > 0.9


def test_unsupported_strategy_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "x.conll"
    path.write_text(to_bio(*make_corpus(30, seed=22)))
    result = CliRunner().invoke(app, ["simulate", "--dataset", str(path), "--strategies", "margin", "--seeds", "1",
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "'margin' does not support task type 'ner'" in result.output


def test_label_studio_span_export_is_read_and_simulated(tmp_path: Path) -> None:
    sentences, tags = make_corpus(40, seed=23)
    tasks = []
    for i, (words, sequence) in enumerate(zip(sentences, tags, strict=True)):
        text = "  ".join(words)  # double spaces: offsets must still line up
        result, position = [], 0
        starts = []
        for word in words:
            starts.append(position)
            position += len(word) + 2
        for k, tag in enumerate(sequence):
            if tag.startswith("B-"):
                end = k
                while end + 1 < len(sequence) and sequence[end + 1].startswith("I-"):
                    end += 1
                s, e = starts[k], starts[end] + len(words[end])
                result.append({"from_name": "label", "to_name": "text", "type": "labels",
                               "value": {"start": s, "end": e, "text": text[s:e], "labels": [tag[2:]]}})
        tasks.append({"id": i, "data": {"text": text}, "annotations": [{"result": result}]})
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    read = span_dataset(str(path))
    assert read is not None and len(read) == 40
    assert [s.tags for s in read] == tags
    report = simulate_spans(read, SpanSimulationConfig(strategies=("entity_min",), initial=5, batch_size=5,
                                                       budget=10, seeds=1, max_iterations=20))
    assert set(report["summary"]) == {"entity_min", "random"}
    assert span_dataset(str(tmp_path / "missing.json")) is None
