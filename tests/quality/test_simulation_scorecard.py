"""``labelsieve simulate --scorecard``: each run's final labelled set is judged and shown in the report."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from labelsieve.cli import app


def test_simulation_report_carries_the_final_scorecard(tmp_path) -> None:
    out = tmp_path / "digits"
    args = ["simulate", "--dataset", "digits", "--strategies", "margin", "--seeds", "1", "--budget", "120",
            "--batch-size", "50", "--learner", "vector", "--scorecard", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    card = report["scorecards"]["margin"]["0"]
    assert card["items"] == 120 and card["keep"] + card["review"] + card["prune"] == 120
    assert card["prune"] == 0  # digits labels are clean: nothing to prune
    assert all(w["recommendation"] != "keep" for w in card["worst"])
    page = (out / "report.html").read_text()
    assert "Scorecard of the final labelled set" in page
    # the final round's test-set confusion matrix: every test item once, rows normalised
    matrix = report["confusion"]["margin"]
    assert sorted(matrix["classes"]) == [str(d) for d in range(10)]
    assert matrix["n"] == sum(matrix["support"]) > 100
    assert abs(matrix["accuracy"] - report["strategies"]["margin"]["final"]["accuracy"]) < 1e-9
    assert "Confusion matrices (test set, final round)" in page and "confusion-matrix" in page
