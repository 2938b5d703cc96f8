"""A digits simulation through the CLI: margin beats random, the report is complete and self-contained."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner


def test_margin_learns_faster_than_random_on_digits(digits_run) -> None:
    out, output = digits_run
    report = json.loads((out / "report.json").read_text())
    margin, random = report["strategies"]["margin"], report["strategies"]["random"]
    assert report["seeds"] == [0, 1, 2]
    assert margin["grid"] == random["grid"] == list(range(20, 81, 10))
    # margin sampling's area under the learning curve is clearly above random's on the same splits
    assert margin["aulc"]["mean"] > random["aulc"]["mean"] + 0.01
    assert sum(m > r for m, r in zip(margin["aulc"]["per_seed"], random["aulc"]["per_seed"], strict=True)) >= 2
    # the full-data logistic regression on raw pixels is a strong reference
    assert 0.93 < report["full_data"]["mean"] <= 1.0
    assert "savings" in output and "margin" in output


def test_report_json_has_the_documented_fields(digits_run) -> None:
    out, _ = digits_run
    report = json.loads((out / "report.json").read_text())
    rows = {row["target"]: row for row in report["savings"] if row["strategy"] == "margin"}
    assert sorted(rows) == [0.9, 0.95, 0.98, 0.99]
    for row in rows.values():
        assert set(row) >= {"labels", "random_labels", "savings", "savings_ci", "reached", "random_reached",
                            "censored", "annotation_seconds_saved"}
        lo, hi = row["savings_ci"]
        assert lo <= row["savings"] <= hi
        # a target not reached within the budget is reported as such, never dropped
        assert row["labels"] == ">budget" or isinstance(row["labels"], int)
    assert rows[0.99]["labels"] == ">budget" and rows[0.99]["censored"]  # 80 labels cannot reach 99%
    margin = report["strategies"]["margin"]
    assert set(margin["curves"]) == {"accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "g_mean"}
    assert set(margin["per_class_recall"]["final"]) == {str(d) for d in range(10)}
    assert margin["select_seconds"]["mean"] > 0
    assert margin["wss95"]["class"] == "8" and len(margin["wss95"]["per_seed"]) == 3
    balance = report["class_balance"]  # diagnosis: what the pool holds and what each strategy asked for
    assert set(balance["pool"]["class_counts"]) == {str(d) for d in range(10)}
    assert 1.0 <= balance["pool"]["imbalance_ratio"] < 1.2  # digits is balanced
    for name in ("margin", "random"):
        counts = balance["labelled"][name]["class_counts"]
        assert abs(sum(counts.values()) - margin["grid"][-1]) < 1e-9  # every label, none synthetic
        assert balance["labelled"][name]["imbalance_ratio"] >= 1.0


def test_html_report_is_self_contained(digits_run) -> None:
    out, _ = digits_run
    page = (out / "report.html").read_text()
    images = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)  # + PR curves
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "<script src" not in page
    assert "margin" in page and "Savings against random" in page and "Class balance" in page


def test_report_command_rebuilds_the_same_numbers(digits_run) -> None:
    from labelsieve.cli import app

    out, _ = digits_run
    before = json.loads((out / "report.json").read_text())
    (out / "report.json").unlink()
    result = CliRunner().invoke(app, ["report", str(out), "--rare-class", "8"])
    assert result.exit_code == 0, result.output
    after = json.loads((out / "report.json").read_text())
    assert after["savings"] == before["savings"]
    assert after["strategies"]["margin"]["aulc"] == before["strategies"]["margin"]["aulc"]
