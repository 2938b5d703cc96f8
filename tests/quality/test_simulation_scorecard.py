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


def test_leakage_between_pool_and_test_set_is_stated_first(tmp_path) -> None:
    """A fixed test set holding copies of pool items: report.json starts with the leakage, the HTML says it first."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    pool, test = order[:400], np.concatenate([order[400:560], order[:40]])  # 40 test items copied from the pool
    for name, idx in (("pool", pool), ("test", test)):
        frame = pd.DataFrame(X[idx], columns=[f"p{k}" for k in range(64)])
        frame["label"] = [f"d{v}" for v in y[idx]]
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    out = tmp_path / "leaky"
    args = ["simulate", "--dataset", str(tmp_path / "pool.csv"), "--test-dataset", str(tmp_path / "test.csv"),
            "--strategies", "margin", "--seeds", "1", "--budget", "60", "--initial", "20", "--batch-size", "20",
            "--learner", "vector", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LEAKAGE: 40 of 200 test items" in " ".join(result.output.split())
    text = (out / "report.json").read_text()
    report = json.loads(text)
    assert next(iter(report)) == "leakage" and report["leakage"]["found"]
    assert report["audit"]["counts"]["test_items_leaked"] == 40
    assert report["audit"]["counts"]["exact_cross_set_groups"] == 40
    page = (out / "report.html").read_text()
    assert page.index("LEAKAGE: 40 of 200") < page.index("Labels needed")
