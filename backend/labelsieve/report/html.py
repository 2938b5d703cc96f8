"""A self-contained HTML page from ``report.json``: plots are PNGs embedded as ``data:`` URIs."""

from __future__ import annotations

import html
from importlib import resources
from string import Template
from typing import Any

import numpy as np

from labelsieve.report.confusion_html import report_confusion_section
from labelsieve.report.perclass_html import perclass_section
from labelsieve.report.plots import figure_data_uri, new_figure
from labelsieve.report.stopping import stopping_table

MIN_SEEDS = 5  # fewer seeds than this: the bootstrap intervals are rough, and the page says so


def curves_png(report: dict[str, Any]) -> str:
    metric = report["metric"]
    fig = new_figure(9, 5)
    ax = fig.subplots()
    for name, entry in report["strategies"].items():
        band = entry["curves"][metric]
        line = ax.plot(entry["grid"], band["mean"], label=name, linewidth=1.8)[0]
        ax.fill_between(entry["grid"], band["lo"], band["hi"], color=line.get_color(), alpha=0.2)
    full = report["full_data"]["mean"]
    ax.axhline(full, color="black", linestyle="--", linewidth=1, label="full data")
    ax.axhline(0.95 * full, color="grey", linestyle=":", linewidth=1, label="95% of full data")
    ax.set_xlabel("labelled examples")
    ax.set_ylabel(f"held-out {metric}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return figure_data_uri(fig)


def recall_png(report: dict[str, Any]) -> str:
    classes = report["protocol"]["dataset"]["classes"]
    names = list(report["strategies"])
    fig = new_figure(10, 3.8, right=0.84)  # the legend sits right of the bars, never over the last class
    fig.subplots_adjust(bottom=0.28 if len(classes) > 12 else 0.18)
    ax = fig.subplots()
    width = 0.8 / max(1, len(names))
    x = np.arange(len(classes))
    for k, name in enumerate(names):
        recall = report["strategies"][name]["per_class_recall"]["final"]
        ax.bar(x + k * width, [recall[c] for c in classes], width=width, label=name)
    ax.set_xticks(x + width * (len(names) - 1) / 2, [str(c) for c in classes], rotation=45 if len(classes) > 12 else 0)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("recall after the last round")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure_data_uri(fig)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _ci(values: list[float | None]) -> str:
    return f"[{_fmt(values[0])}, {_fmt(values[1])}]"


def _saving(row: dict[str, Any], value: float) -> str:
    mark = {"lower": "&ge;&thinsp;", "upper": "&le;&thinsp;", "unknown": "?&thinsp;"}.get(row.get("savings_bound"), "")
    return f"{mark}{value:.1%}"


def savings_table(report: dict[str, Any]) -> str:
    seconds = any(row["annotation_seconds_saved"] is not None for row in report["savings"])
    rows = ["<table><tr><th>strategy</th><th>target</th><th>labels (median)</th><th>random (median)</th>"
            "<th>seeds reaching target: strategy / random</th><th>savings: median of per-seed ratios</th>"
            "<th>savings: mean of per-seed ratios</th><th>95% CI of the mean</th>"
            + ("<th>annotation seconds saved (mean)</th>" if seconds else "") + "</tr>"]
    for row in report["savings"]:
        rows.append(
            f"<tr><td class='name'>{html.escape(row['strategy'])}</td><td>{row['target']:.0%}</td>"
            f"<td>{_fmt(row['labels'])}</td><td>{_fmt(row['random_labels'])}</td>"
            f"<td>{row['reached']} of {row['n_seeds']} / {row['random_reached']} of {row['n_seeds']}</td>"
            f"<td>{_saving(row, row.get('savings_median', row['savings']))}</td><td>{_saving(row, row['savings'])}</td>"
            f"<td>[{row['savings_ci'][0]:.1%}, {row['savings_ci'][1]:.1%}]</td>"
            + (f"<td>{_fmt(row['annotation_seconds_saved'], 1)}</td>" if seconds else "") + "</tr>")
    rows.append("</table>")
    return "".join(rows)


def summary(report: dict[str, Any], target: float = 0.95) -> str:
    """One sentence per strategy at the 95% target: labels saved against random (paired median, bootstrap CI)."""
    sentences = []
    for row in report["savings"]:
        saved = row.get("labels_saved")
        if abs(row["target"] - target) > 1e-9 or saved is None:
            continue
        median, (lo, hi) = saved["median"], saved["ci"]
        if row["reached"] == 0 and row["random_reached"] == 0:
            sentences.append(
                f"Neither <b>{html.escape(row['strategy'])}</b> nor random reached {target:.0%} of the full-data "
                f"{html.escape(report['metric'])} within the budget on any of {row['n_seeds']} seeds: no saving "
                "can be measured; run with a larger --budget.")
            continue
        words = "fewer" if median >= 0 else "more"
        bound = {"lower": " at least", "upper": " at most"}.get(row.get("savings_bound") or "", "")
        sentences.append(
            f"<b>{html.escape(row['strategy'])}</b> needed{bound} {abs(median):.0f} {words} labels than random to "
            f"reach {target:.0%} of the full-data {html.escape(report['metric'])} (paired median over "
            f"{row['n_seeds']} seeds, 95% CI [{lo:.0f}, {hi:.0f}] by paired bootstrap).")
    if not sentences:
        return ""
    return "<p class='summary'>" + " ".join(sentences) + "</p>"


def leakage_warning(report: dict[str, Any]) -> str:
    """The report's first line when the test set holds copies of training items (``report.json`` ``audit``)."""
    found = (report.get("audit") or {}).get("leakage") or {}
    if not found.get("found"):
        return ""
    per_seed = ", ".join(f"seed {s}: {n}" for s, n in found.get("test_items_per_seed", {}).items())
    return f'<p class="warning leakage"><b>{html.escape(found["sentence"])}</b> ({html.escape(per_seed)})</p>'


def seeds_warning(report: dict[str, Any]) -> str:
    n = len(report["seeds"])
    if n >= MIN_SEEDS:
        return ""
    return (f"<p class='warning'>Only {n} seed{'s' if n != 1 else ''}: intervals from so few repetitions are rough "
            f"and medians can hinge on one run; use --seeds {MIN_SEEDS} or more before drawing conclusions.</p>")


def aulc_table(report: dict[str, Any]) -> str:
    metric = report["metric"]
    show_wss = any(entry.get("wss95") is not None for entry in report["strategies"].values())
    rows = ["<table><tr><th>strategy</th><th>normalised AULC</th><th>95% CI</th><th>final score</th>"
            "<th>selection s / round</th><th>fit s / round</th>" + ("<th>WSS@95</th>" if show_wss else "") + "</tr>"]
    for name, entry in report["strategies"].items():
        wss = entry.get("wss95")
        wss_text = "&ndash;"
        if wss is not None:
            reached = [v for v in wss["per_seed"] if v is not None]
            wss_text = (f"{np.mean(reached):.3f} ({wss['reached']}/{len(wss['per_seed'])} seeds, class "
                        f"{html.escape(str(wss['class']))})") if reached else "not reached within budget"
        rows.append(
            f"<tr><td class='name'>{html.escape(name)}</td><td>{entry['aulc']['mean']:.4f}</td>"
            f"<td>{_ci(entry['aulc']['ci'])}</td><td>{entry['final'][metric]:.4f}</td>"
            f"<td>{entry['select_seconds']['mean']:.4f}</td><td>{entry['fit_seconds']['mean']:.4f}</td>"
            + (f"<td>{wss_text}</td>" if show_wss else "") + "</tr>")
    rows.append("</table>")
    return "".join(rows)


def balance_table(report: dict[str, Any]) -> str:
    balance = report.get("class_balance")
    if not balance:
        return ""
    names = list(balance["labelled"])
    head = "".join(f"<th>labelled by {html.escape(n)}</th>" for n in names)
    rows = ["<h2>Class balance</h2><p class='note'>Items per class in the pool and among the labels each strategy "
            "asked for (mean over seeds); imbalance ratio = largest / smallest class.</p>",
            f"<table><tr><th>class</th><th>pool</th>{head}</tr>"]
    for c in report["protocol"]["dataset"]["classes"]:
        cells = "".join(f"<td>{balance['labelled'][n]['class_counts'][c]:.1f}</td>" for n in names)
        rows.append(f"<tr><td class='name'>{html.escape(str(c))}</td>"
                    f"<td>{balance['pool']['class_counts'][c]:.0f}</td>{cells}</tr>")
    ratios = "".join(f"<td>{_fmt(balance['labelled'][n]['imbalance_ratio'], 2)}</td>" for n in names)
    rows.append(f"<tr><td class='name'>imbalance ratio</td><td>{_fmt(balance['pool']['imbalance_ratio'], 2)}</td>"
                f"{ratios}</tr></table>")
    return "".join(rows)


def scorecard_table(report: dict[str, Any]) -> str:
    """The final labelled set of each run, judged (``simulate --scorecard``): counts and the worst candidates."""
    cards = [(s, seed, card) for s, by_seed in report.get("scorecards", {}).items() for seed, card in by_seed.items()]
    if not cards:
        return ""
    rows = ["<h2>Scorecard of the final labelled set</h2><table><tr><th>strategy</th><th>seed</th><th>items</th>"
            "<th>flagged</th><th>keep</th><th>review</th><th>prune</th><th>worst candidates (task: label → "
            "suggested, issue score)</th></tr>"]
    for s, seed, card in cards:
        worst = ", ".join(f"{w['task_id']}: {html.escape(str(w['label']))} → {html.escape(str(w['suggested_label']))}"
                          f" {w['issue_score']:.2f}" for w in card.get("worst", [])[:5])
        rows.append(f"<tr><td class='name'>{html.escape(s)}</td><td>{seed}</td><td>{card.get('items')}</td>"
                    f"<td>{card.get('flagged')}</td><td>{card.get('keep')}</td><td>{card.get('review')}</td>"
                    f"<td>{card.get('prune')}</td><td class='name'>{worst or '—'}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def test_set_text(p: dict[str, Any]) -> str:
    """Which items scored the rounds: a fixed test set (``--test-dataset``) or a held-out split of the pool."""
    test = p.get("test_dataset")
    if not test:
        return f"held-out fraction {p['test_fraction']}"
    counts = ", ".join(f"{c}: {n}" for c, n in test["class_counts"].items())
    return (f"fixed test set {test['name']} ({test.get('path') or test['name']}, {test['n']} items; {counts}); "
            "the whole data set is the pool")


def render_html(report: dict[str, Any]) -> str:
    p = report["protocol"]
    protocol = (f"Data set {p['dataset']['name']} ({p['dataset']['n']} items, {len(p['dataset']['classes'])} classes), "
                f"learner {p.get('learner_resolved') or p['learner']}, "
                f"seed set {p['initial']} ({p.get('initial_sampling', 'stratified')}), "
                f"batch {p['batch_size']}, "
                f"budget {p['budget']}, {test_set_text(p)}, balancing {p['balancing'] or 'off'}, "
                f"seeds {', '.join(str(s) for s in report['seeds'])}. Full-data {report['metric']}: "
                f"{report['full_data']['mean']:.4f} {_ci(report['full_data']['ci'])}.")
    template = Template(resources.files("labelsieve.report").joinpath("templates/report.html").read_text())
    return template.substitute(
        title=html.escape(str(p["dataset"]["name"])), protocol=html.escape(protocol), metric=report["metric"],
        n_seeds=len(report["seeds"]), savings_table=savings_table(report), curves_png=curves_png(report),
        aulc_table=aulc_table(report), recall_png=recall_png(report),
        extra=balance_table(report) + perclass_section(report) + report_confusion_section(report)
        + scorecard_table(report) + stopping_table(report),
        summary=summary(report), warning=leakage_warning(report) + seeds_warning(report),
    )
