"""The simulation report's "When to stop" section: the stop signal against the labels to 98% of full data."""

from __future__ import annotations

import json
from pathlib import Path

from labelsieve.quality.stopping import StopRule
from labelsieve.report.stopping import stop_round


def test_the_report_shows_where_the_stop_signal_fired(digits_run) -> None:
    out, _ = digits_run
    report = json.loads((out / "report.json").read_text())
    section = report["stopping"]
    assert section["threshold"] == 0.99 and section["window"] == 3
    assert set(section["strategies"]) == {"margin", "random"}
    for entry in section["strategies"].values():
        assert entry["n_seeds"] == 3 and len(entry["per_seed"]) == 3
        for row in entry["per_seed"]:  # 7 rounds of a small budget: a stop can only come after 3 stable pairs
            assert row["stop_labels"] is None or row["stop_labels"] >= 50
    assert "When to stop" in Path(out / "report.html").read_text()


def test_the_stop_round_is_the_first_after_a_window_of_stable_pairs() -> None:
    same = {"ids": [1, 2, 3, 4], "labels": ["a", "b", "a", "b"]}
    other = {"ids": [1, 2, 3, 4], "labels": ["b", "b", "a", "a"]}
    assert stop_round([other, same, other, same, same, same, same], StopRule(0.99, 3)) == 6
    assert stop_round([other, same, other, same], StopRule(0.99, 3)) is None
