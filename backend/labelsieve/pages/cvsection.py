"""The project page's "Per-class estimate (5-fold)" section: the status's ``cv_estimate`` as a table, rarest first."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc, num, table
from labelsieve.report.confusion_html import confusion_table


def cv_estimate_section(estimate: dict[str, Any] | None, class_counts: dict[str, int]) -> str:
    if not estimate:
        return ('<p class="empty">No 5-fold estimate yet: it is computed in the background after a retrain '
                "(project setting cv_estimate).</p>")
    when = (f"computed {esc(estimate.get('computed_at', '')[:19].replace('T', ' '))} UTC on "
            f"{estimate.get('n_used', estimate.get('n_labels'))} labels for version {esc(estimate.get('version'))}")
    stale = "" if estimate.get("serving") else " (the serving version's estimate is still being computed)"
    since = estimate.get("labels_since", 0)
    notes = [f"{esc(estimate.get('method', ''))}; {when}{stale}"
             + (f"; {since} label(s) arrived since" if since else "")
             + ("; a stratified subsample (cv_max_labels)" if estimate.get("capped") else "") + "."]
    too_few = estimate.get("too_few") or {}
    if too_few:
        shown = ", ".join(f"{esc(c)} ({n})" for c, n in too_few.items())
        notes.append(f"Not estimated, fewer than {estimate.get('folds', 5)} labels (trained on in every fold, never "
                     f"held out): {shown}.")
    if estimate.get("status") != "ok":
        return "".join(f'<p class="note">{n}</p>' for n in notes) + f'<p class="empty">{esc(estimate.get("note"))}</p>'
    per_class = estimate["per_class"]
    order = sorted(per_class, key=lambda c: (class_counts.get(c, per_class[c]["support"]), c))
    rows = [[esc(c), str(per_class[c]["support"]), num(per_class[c]["recall"]), num(per_class[c]["precision"])]
            for c in order]
    return (f'<p>Macro-F1 <b>{num(estimate.get("macro_f1"))}</b> over {len(per_class)} classes (5-fold, labelled set).'
            "</p>" + "".join(f'<p class="note">{n}</p>' for n in notes)
            + table(["class", "labels", "recall", "precision"], rows, "cv-estimate")
            + ("<h3>Confusion matrix (5-fold, labelled set)</h3>" + confusion_table(estimate["confusion"])
               if estimate.get("confusion") else ""))
