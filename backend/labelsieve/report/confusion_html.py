"""A confusion matrix as an HTML table (report and project page): one row per true class, cells shaded by the
row-normalised share, the percentage written in each non-empty cell, and the top confusions listed beneath.

Plain HTML with inline styles (no image, no script): it scrolls sideways inside its own box at 20+ classes and
the class names stay text a reader can search."""

from __future__ import annotations

import html
from typing import Any

SMALL_AT = 12  # from this many classes on, smaller cells and type


def _cell(share: float, count: int, diagonal: bool) -> str:
    hue = "34,139,34" if diagonal else "200,40,40"
    text = "" if count == 0 else ("&lt;1" if share < 0.005 else f"{share * 100:.0f}")
    title = f"{count} item(s), {share * 100:.1f}% of the row"
    ink = "; color: white" if share > 0.6 else ""
    return (f'<td class="cm-cell" title="{title}" style="background: rgba({hue},{min(1.0, share):.3f}); '
            f'text-align: right{ink}">{text}</td>')


def confusion_table(summary: dict[str, Any] | None, *, caption: str = "") -> str:
    if not summary or not summary.get("classes"):
        return '<p class="empty">No confusion matrix: no predictions to compare with labels yet.</p>'
    classes = [html.escape(str(c)) for c in summary["classes"]]
    size = "0.7em" if len(classes) >= SMALL_AT else "0.85em"
    head = "".join(f'<th class="cm-col" title="predicted {c}">{c}</th>' for c in classes)
    rows = [f'<div class="confusion" style="overflow-x: auto; font-size: {size}">',
            f'<table class="confusion-matrix" data-classes="{len(classes)}">'
            + (f"<caption>{html.escape(caption)}</caption>" if caption else "")
            + f'<tr><th>true \\ predicted</th>{head}<th>n</th></tr>']
    for i, c in enumerate(classes):
        cells = "".join(_cell(float(summary["normalized"][i][j]), int(summary["counts"][i][j]), i == j)
                        for j in range(len(classes)))
        rows.append(f'<tr><th class="cm-row">{c}</th>{cells}<td>{summary["support"][i]}</td></tr>')
    rows.append("</table></div>")
    accuracy = summary.get("accuracy")
    rows.append(f'<p class="note">Rows are true classes, normalised to 100% (the diagonal is each class\'s recall); '
                f"worst recall first. {summary['n']} predictions"
                + (f", accuracy {accuracy:.3f}" if accuracy is not None else "") + ".</p>")
    top = summary.get("top_confusions") or []
    if top:
        items = "".join(f"<li>{html.escape(str(t['true']))} → {html.escape(str(t['predicted']))}: {t['count']} "
                        f"({t['share'] * 100:.0f}% of {html.escape(str(t['true']))})</li>" for t in top)
        rows.append(f'<p>Top confusions (true → predicted):</p><ol class="top-confusions">{items}</ol>')
    else:
        rows.append('<p class="note">No confusions: every prediction matched its label.</p>')
    return "".join(rows)


def report_confusion_section(report: dict[str, Any]) -> str:
    """The simulation report's section: one matrix per strategy, final round, seeds pooled."""
    matrices = report.get("confusion") or {}
    if not matrices:
        return ""
    parts = ["<h2>Confusion matrices (test set, final round)</h2><p class='note'>Per strategy, the seeds' "
             "test-set predictions at the last round added up.</p>"]
    for strategy, summary in matrices.items():
        parts.append(f"<h3>{html.escape(strategy)}</h3>" + confusion_table(summary))
    return "".join(parts)
