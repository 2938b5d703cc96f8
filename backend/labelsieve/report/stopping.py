"""The stop signal in the simulation report: labels when stabilising predictions say stop, against the labels
the held-out curve needed to reach 98% of the full-data score, and the score at the stop (per strategy, median
over seeds). Read from each round's stored stop-set predictions (:mod:`labelsieve.service.stopping`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.quality.stopping import StopRule, pair_kappa

TARGET = 0.98


def stop_round(records: Sequence[dict[str, Any] | None], rule: StopRule) -> int | None:
    """Index of the first round at which the rule fires on the kappas of successive rounds, or None."""
    kappas: list[float] = []
    for r in range(1, len(records)):
        before, after = records[r - 1], records[r]
        kappa = pair_kappa(before, after) if before and after and before.get("ids") else None
        if kappa is None:
            continue
        kappas.append(kappa)
        if rule.fired(kappas):
            return r
    return None


def rule_of(records: Sequence[dict[str, Any] | None]) -> StopRule:
    stored = next((r for r in records if r), None) or {}
    return StopRule(threshold=float(stored.get("threshold", 0.99)), window=int(stored.get("window", 3)))


def stopping_section(runs: dict[str, dict[int, dict[str, Any]]], seeds: list[int], full: dict[int, float],
                     metric: str) -> dict[str, Any] | None:
    """Per strategy: labels at the stop signal and to 98% of full data, per seed and median (None: no records)."""
    out: dict[str, Any] = {}
    rule = None
    for s, by_seed in runs.items():
        rows = []
        for seed in seeds:
            rounds, records = by_seed[seed]["rounds"], by_seed[seed].get("stop_sets") or []
            if not any(records):
                return None
            rule = rule_of(records)
            at = stop_round(records, rule)
            grid = [row["n_labels"] for row in rounds]
            reach = next((n for n, row in zip(grid, rounds, strict=True) if row[metric] >= TARGET * full[seed]), None)
            rows.append({"seed": seed, "stop_labels": None if at is None else grid[at], "labels_98": reach,
                         "score_at_stop": None if at is None else float(rounds[at][metric]),
                         "ratio_at_stop": None if at is None else float(rounds[at][metric] / full[seed])})
        stopped = [r for r in rows if r["stop_labels"] is not None]
        out[s] = {"per_seed": rows, "stopped": len(stopped), "n_seeds": len(rows),
                  "median_stop_labels": _median([r["stop_labels"] for r in stopped]),
                  "median_labels_98": _median([r["labels_98"] for r in rows if r["labels_98"] is not None]),
                  "reached_98": sum(r["labels_98"] is not None for r in rows),
                  "mean_ratio_at_stop": _mean([r["ratio_at_stop"] for r in stopped])}
    assert rule is not None
    return {"threshold": rule.threshold, "window": rule.window, "target": TARGET, "strategies": out}


def _median(values: list[int]) -> float | None:
    return float(np.median(values)) if values else None


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _cell(value: Any, fmt: str = "{:.0f}") -> str:
    return "&ndash;" if value is None else fmt.format(value)


def stopping_table(report: dict[str, Any]) -> str:
    """The report page's section: where the stop signal fired against the labels 98% of full data needed."""
    section = report.get("stopping")
    if not section:
        return ""
    head = ("<h2>When to stop</h2><p>Stop signal: the mean Cohen's kappa between successive models' predictions "
            f"on a fixed stop set over the last {section['window']} rounds reaches {section['threshold']} "
            "(stabilising predictions, Bloodgood &amp; Vijay-Shanker 2009). Compared with the labels the held-out "
            f"curve needed to reach {section['target']:.0%} of the full-data score.</p><table><tr><th>strategy</th>"
            "<th>seeds stopped</th><th>labels at stop (median)</th><th>seeds reaching 98%</th>"
            "<th>labels to 98% (median)</th><th>score at stop / full data (mean)</th></tr>")
    rows = "".join(
        f"<tr><td>{html.escape(s)}</td><td>{e['stopped']} / {e['n_seeds']}</td>"
        f"<td>{_cell(e['median_stop_labels'])}</td>"
        f"<td>{e['reached_98']} / {e['n_seeds']}</td><td>{_cell(e['median_labels_98'])}</td>"
        f"<td>{_cell(e['mean_ratio_at_stop'], '{:.1%}')}</td></tr>"
        for s, e in section["strategies"].items())
    return head + rows + "</table>"
