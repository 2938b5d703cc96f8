"""The simulation report says what its numbers are: reached counts, medians vs per-seed ratios, bounds,
a summary sentence with a paired-bootstrap interval, a few-seeds warning, and no all-empty columns."""

from __future__ import annotations

import copy
import json
import re

from labelsieve.report.html import render_html


def test_report_page_explains_itself(digits_run) -> None:
    out, _ = digits_run
    report = json.loads((out / "report.json").read_text())
    page = (out / "report.html").read_text()
    assert "seeds reaching target: strategy / random" in page
    assert re.search(r"<td>\d of 3 / \d of 3</td>", page)
    assert "median of per-seed ratios" in page and "mean of per-seed ratios" in page
    row = next(r for r in report["savings"] if r["strategy"] == "margin" and r["target"] == 0.95)
    if row["reached"] == row["random_reached"] == 0:  # 80 labels may not get there: then the page says so
        assert "Neither <b>margin</b> nor random reached 95% of the full-data accuracy" in page
    else:
        sentence = re.search(r"<b>margin</b> needed (at (least|most) )?(\d+) (fewer|more) labels than random to reach "
                             r"95% of the full-data accuracy \(paired median over 3 seeds, 95% CI \[(-?\d+), (-?\d+)\]",
                             page)
        assert sentence, page[:3000]
    lo, hi = row["labels_saved"]["ci"]
    assert lo <= row["labels_saved"]["median"] <= hi
    bare = copy.deepcopy(report)  # the sentence itself, on a target every seed reached
    for r in bare["savings"]:
        r.update(reached=3, random_reached=3, savings_bound=None, labels_saved={"median": 30.0, "ci": [10.0, 40.0]})
    assert ("<b>margin</b> needed 30 fewer labels than random to reach 95% of the full-data accuracy (paired median "
            "over 3 seeds, 95% CI [10, 40] by paired bootstrap)") in render_html(bare)
    assert "Only 3 seeds" in page  # fewer than five: the page warns
    assert "dotted: 95% of it" in page and "Dashed: the full-data model and the 95% target" not in page
    assert "WSS@95" in page  # --rare-class was given
    for r in report["savings"]:  # a target random missed on some seed makes the saving a lower bound
        if r["random_reached"] < r["n_seeds"] and r["reached"] == r["n_seeds"]:
            assert r["savings_bound"] == "lower"


def test_empty_columns_are_hidden(digits_run) -> None:
    out, _ = digits_run
    report = json.loads((out / "report.json").read_text())
    bare = copy.deepcopy(report)
    for entry in bare["strategies"].values():
        entry.pop("wss95", None)
    for row in bare["savings"]:
        row["annotation_seconds_saved"] = None
    page = render_html(bare)
    assert "WSS@95" not in page and "annotation seconds saved" not in page and "annotation s saved" not in page
    for row in report["savings"]:
        row["annotation_seconds_saved"] = 12.5
    assert "annotation seconds saved" in render_html(report)
