"""``labelsieve simulate`` on multi-label data: a CSV whose label cells hold ``|``-separated labels, and a Label
Studio export of multi-choice tasks; every round records tasks and labels (annotation units)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from labelsieve.cli import app
from labelsieve.simulate.datasets import DatasetError, load_csv, load_label_studio_export

WORDS = {"travel": ["flight", "hotel", "paris", "beach", "train"], "sport": ["football", "tennis", "match", "goal"],
         "food": ["pizza", "pasta", "recipe", "dinner", "bread"]}


def _rows(n: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    names = list(WORDS)
    rows = []
    for _ in range(n):
        picked = sorted(rng.choice(names, size=int(rng.integers(1, 3)), replace=False).tolist())
        text = " ".join(str(w) for label in picked for w in rng.choice(WORDS[label], size=2, replace=False))
        rows.append((text, "|".join(picked)))
    return rows


def _csv(path: Path, n: int = 90) -> Path:
    path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in _rows(n, 0)))
    return path


def test_csv_label_cells_with_pipes_make_a_multi_label_data_set(tmp_path: Path) -> None:
    data = load_csv(_csv(tmp_path / "topics.csv"))
    assert data.multi_label and data.classes == ["food", "sport", "travel"]
    assert all(1 <= len(s) <= 2 for s in data.label_sets)
    assert set(data.strata) <= set(data.classes)
    single = load_csv(_csv(tmp_path / "topics2.csv"), task_type="single_label")
    assert not single.multi_label and any("|" in c for c in single.classes)


def test_label_studio_export_of_multi_choice_tasks(tmp_path: Path) -> None:
    tasks = [{"id": k, "data": {"text": text}, "annotations": [{"was_cancelled": False, "lead_time": 2.0, "result": [
        {"from_name": "topics", "to_name": "text", "type": "choices", "value": {"choices": label.split("|")}}]}]}
        for k, (text, label) in enumerate(_rows(30, 1))]
    tasks.append({"id": 99, "data": {"text": "no answer"}, "annotations": [{"was_cancelled": True, "result": []}]})
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    data = load_label_studio_export(path)
    assert data.multi_label and len(data) == 30 and data.kind == "text"


def test_an_empty_label_set_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nhello,a|b\nworld,|\n")
    with pytest.raises(DatasetError, match="empty label set"):
        load_csv(path)


def test_simulate_cli_runs_multi_label_strategies_and_counts_labels(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "--dataset", str(_csv(tmp_path / "topics.csv")), "--strategies", "multilabel_uncertainty,mmc",
            "--seeds", "2", "--budget", "30", "--initial", "8", "--batch-size", "8", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["strategies"]) >= {"multilabel_uncertainty", "mmc", "random"}
    rounds = list((out / "runs").rglob("*.sqlite3"))
    assert rounds, "each run keeps its project database"
    from sqlmodel import Session, create_engine, select

    from labelsieve.storage.models import ModelVersion

    engine = create_engine(f"sqlite:///{rounds[0]}")
    with Session(engine) as session:
        versions = list(session.exec(select(ModelVersion)))
    engine.dispose()
    heldout = [v.metrics["heldout"] for v in versions if v.metrics and "heldout" in v.metrics]
    assert heldout and all({"micro_f1", "hamming_loss", "subset_accuracy"} <= set(h) for h in heldout)
    assert all(h["annotation_units"] >= v.n_train for h, v in zip(heldout, versions, strict=False))
    assert any(h["annotation_units"] > v.n_train for h, v in zip(heldout, versions, strict=False)), \
        "tasks with two labels cost two labels"
