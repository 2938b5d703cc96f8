"""Confusion matrices: row-normalised, worst recall first, top confusions listed; the project page's 5-fold
matrix at 24 classes renders in a real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelsieve.learners.vector import VectorLearner
from labelsieve.pages.cvsection import cv_estimate_section
from labelsieve.quality.confusion import confusion_summary, pooled
from labelsieve.quality.cvestimate import cross_validate
from labelsieve.report.confusion_html import report_confusion_section
from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary


def test_rows_are_normalised_sorted_worst_first_and_top_confusions_counted() -> None:
    truth = ["a"] * 10 + ["b"] * 10 + ["c"] * 4
    guess = ["a"] * 10 + ["b"] * 4 + ["c"] * 6 + ["c", "c", "c", "a"]
    s = confusion_summary(truth, guess)
    assert s["classes"] == ["b", "c", "a"]  # recall 0.4, 0.75, 1.0
    assert np.allclose(np.asarray(s["normalized"]).sum(axis=1), 1.0)
    assert s["normalized"][0][0] == pytest.approx(0.4) and s["support"] == [10, 4, 10]
    assert s["top_confusions"][0] == {"true": "b", "predicted": "c", "count": 6, "share": 0.6}
    assert s["top_confusions"][1]["true"] == "c" and s["top_confusions"][1]["predicted"] == "a"
    both = pooled([s, confusion_summary(["a", "d"], ["d", "d"])])
    assert both is not None and both["n"] == 26 and "d" in both["classes"]
    assert both["counts"][both["classes"].index("a")][both["classes"].index("d")] == 1


PROBE = """(() => {
  const tables = [...document.querySelectorAll('table.confusion-matrix')];
  return tables.map(t => {
    const box = t.parentElement.getBoundingClientRect();
    const cells = [...t.querySelectorAll('td.cm-cell')].map(c => c.getBoundingClientRect());
    return {rows: t.querySelectorAll('tr').length, cells: cells.length,
            min_w: Math.min(...cells.map(r => r.width)), min_h: Math.min(...cells.map(r => r.height)),
            box_w: box.width, scroll_w: t.parentElement.scrollWidth,
            font: parseFloat(getComputedStyle(t.querySelector('td.cm-cell')).fontSize),
            top: t.parentElement.parentElement.querySelectorAll('ol.top-confusions li').length,
            text: t.innerText.length};
  });
})()"""


def test_chromium_renders_the_page_and_report_matrices_at_24_classes(tmp_path: Path) -> None:
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))  # make test installs it
    rng = np.random.default_rng(0)
    classes = [f"class-{k:02d}" for k in range(24)]
    centres = rng.normal(0, 2.2, size=(24, 8))
    y = [classes[k % 24] for k in range(24 * 12)]
    X = [centres[k % 24] + rng.normal(0, 1, 8) for k in range(24 * 12)]
    estimate = cross_validate(X, y, fit=lambda a, b: VectorLearner().fit(a, b))
    assert estimate["status"] == "ok" and len(estimate["confusion"]["classes"]) == 24
    assert estimate["confusion"]["top_confusions"], "overlapping blobs must confuse something"
    page = cv_estimate_section({**estimate, "version": "v1", "serving": True}, dict.fromkeys(classes, 12))
    report = report_confusion_section({"confusion": {"margin": estimate["confusion"]}})
    path = tmp_path / "matrices.html"
    path.write_text(f"<!doctype html><html><body style='width: 900px'><section>{page}</section>"
                    f"<section>{report}</section></body></html>", encoding="utf-8")
    browser = Chromium().start()
    try:
        visit = browser.visit(path.resolve().as_uri(), probe=PROBE)
    finally:
        browser.stop()
    assert len(visit.dom) == 2
    for table in visit.dom:
        assert table["rows"] == 25 and table["cells"] == 24 * 24
        assert table["min_w"] >= 12 and table["min_h"] >= 10 and table["font"] >= 9  # legible cells
        assert table["box_w"] <= 900 and table["scroll_w"] >= table["box_w"]  # scrolls inside its box
        assert table["top"] == 10 and table["text"] > 24 * 8
