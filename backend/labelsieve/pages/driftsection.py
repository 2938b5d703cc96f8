"""The project page's "Drift" section: the status's ``drift`` block (quality/driftjob.py) in words and numbers."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc, num, table


def drift_section(block: dict[str, Any] | None) -> str:
    if not block:
        return ('<p class="empty">No drift check yet: one runs in the background after each retrain (new tasks '
                "against the earlier ones; the prequential accuracy stream).</p>")
    words = {True: "<b>drift detected</b>", False: "no drift detected", None: "too few to tell"}
    verdict = words[block.get("detected")]
    parts = [f"<p>Version {esc(block.get('version'))}, checked {esc(str(block.get('checked_at', ''))[:19])} UTC: "
             f"{verdict}.</p>"]
    if block.get("detected"):
        parts.append(f'<p class="failed">{esc(block.get("advice"))}</p>')
    features, accuracy = block.get("features") or {}, block.get("accuracy") or {}
    rows = [["new tasks vs earlier tasks", esc(features.get("test", "MMD permutation test")),
             esc({True: "drift", False: "none", None: "too few to tell"}[features.get("detected")]),
             f"MMD² {num(features.get('mmd2'), 4)}, z {num(features.get('z'), 2)}, p {num(features.get('p_value'), 4)}"
             f" ({features.get('n_new', features.get('n_new_tasks', 0))} new, "
             f"{features.get('n_reference', features.get('n_earlier_tasks', 0))} earlier)",
             esc(features.get("reason"))],
            ["prequential accuracy", esc(accuracy.get("detector", "river ADWIN")),
             esc({True: "drop", False: "none", None: "too few to tell"}[accuracy.get("detected")]),
             f"window accuracy {num(accuracy.get('window_accuracy'))}, {accuracy.get('n_scored', 0)} scored labels, "
             f"{len(accuracy.get('changes') or [])} change(s)", esc(accuracy.get("reason"))]]
    return "".join(parts) + table(["check", "method", "verdict", "statistics", "why"], rows, "drift")
