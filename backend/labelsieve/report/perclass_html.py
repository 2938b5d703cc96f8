"""The report's per-class section: macro-F1, G-mean, per-class recall and precision, and the minority classes'
precision-recall curves (one panel per class, one line per strategy)."""

from __future__ import annotations

import html
from typing import Any

from labelsieve.report.plots import figure_data_uri, new_figure


def pr_curves_png(section: dict[str, Any], pool: dict[str, float]) -> str | None:
    minority = section["minority"]
    drawn = [(c, s, entry["pr_curves"][c]) for c in minority for s, entry in section["strategies"].items()
             if entry["pr_curves"].get(c)]
    if not drawn:
        return None
    fig = new_figure(3.4 * len(minority) + 0.6, 3.6, right=0.98)
    fig.subplots_adjust(left=0.07, bottom=0.17, top=0.88, wspace=0.25)
    axes = fig.subplots(1, len(minority), squeeze=False)[0]
    for ax, c in zip(axes, minority, strict=True):
        baseline = None
        for s, entry in section["strategies"].items():
            curve = entry["pr_curves"].get(c)
            if curve:
                ax.step(curve["recall"], curve["precision"], where="post", linewidth=1.6,
                        label=f"{s} (AP {curve['ap']:.2f})")
                baseline = curve["prevalence"]
        if baseline is not None:
            ax.axhline(baseline, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"class {c} ({pool.get(c, 0):.0f} in the pool)", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("recall")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=7)
    axes[0].set_ylabel("precision")
    return figure_data_uri(fig)


def _pct(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.3f}"


def perclass_section(report: dict[str, Any]) -> str:
    """Empty when the report has no per-class section (a folder written before it existed)."""
    section = report.get("per_class")
    if not section or not section.get("strategies"):
        return ""
    names = list(section["strategies"])
    classes = report["protocol"]["dataset"]["classes"]
    pool = report.get("class_balance", {}).get("pool", {}).get("class_counts", {})
    minority = section["minority"]
    when = ("after the last round" if section.get("at") is None
            else f"at the last round with at most {section['at']} labels")
    rows = [f"<h2>Per-class performance and the minority classes</h2><p class='note'>On the test set, {when} "
            "(mean over seeds). Minority classes = the rarest by pool frequency: "
            f"{', '.join(html.escape(str(c)) for c in minority)}. G-mean = geometric mean of the per-class recalls "
            "(0 as soon as one class is never recognised).</p>",
            "<table class='perclass-summary'><tr><th>strategy</th><th>labels</th><th>macro-F1</th><th>G-mean</th>"
            "</tr>"]
    for s in names:
        e = section["strategies"][s]
        rows.append(f"<tr><td class='name'>{html.escape(s)}</td><td>{e['n_labels']}</td><td>{e['macro_f1']:.3f}</td>"
                    f"<td>{e['g_mean']:.3f}</td></tr>")
    rows.append("</table>")
    head = "".join(f"<th>{html.escape(s)} recall</th><th>{html.escape(s)} precision</th>" for s in names)
    rows.append(f"<table class='perclass'><tr><th>class</th><th>pool</th>{head}</tr>")
    for c in sorted(classes, key=lambda k: (pool.get(k, 0), k)):
        mark = " (minority)" if c in minority else ""
        cells = "".join(f"<td>{_pct(section['strategies'][s]['per_class'][c]['recall'])}</td>"
                        f"<td>{_pct(section['strategies'][s]['per_class'][c]['precision'])}</td>" for s in names)
        rows.append(f"<tr><td class='name'>{html.escape(str(c))}{mark}</td><td>{pool.get(c, 0):.0f}</td>{cells}</tr>")
    rows.append("</table>")
    png = pr_curves_png(section, pool)
    if png is None:
        rows.append("<p class='note'>No precision-recall curves: these runs kept no test-set probabilities "
                    "(simulated before labelsieve stored them); rerun the simulation.</p>")
    else:
        rows.append("<h3>Precision-recall curves of the minority classes</h3><p class='note'>One class against the "
                    "rest, from the model's probabilities on the test set; interpolated precision averaged over seeds; "
                    "AP = average precision (mean over seeds); dotted: the class's share of the test set (a model "
                    "that guesses).</p>"
                    f'<img alt="precision-recall curves of the minority classes" src="{png}">')
    return "".join(rows)
