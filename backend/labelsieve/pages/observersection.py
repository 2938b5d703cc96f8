"""The project page's "Observer mode" section: the status's ``observer`` (service/observer.py)."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc


def observer_section(observer: dict[str, Any] | None) -> str:
    """Empty when the project is not in observer mode; else what was read, how many tasks had scored boxes, the
    head pushed, and the message when there is no ranking signal."""
    if not observer:
        return ""
    versions = ", ".join(observer.get("versions") or []) or "none found yet"
    parts = [f"<p>Observer mode: labelsieve trains nothing and ranks from <b>{esc(versions)}</b> "
             f"(setting <code>observe: {esc(observer.get('observe'))}</code>), aggregating per-box scores with "
             f"<b>{esc(observer.get('aggregation') or 'sum')}</b>.</p>"]
    if "tasks_observed" in observer:
        parts.append(f"<p>{observer['tasks_observed']} task(s) with a prediction of it, <b>{observer['tasks_scored']}"
                     f"</b> with scored boxes ({observer['regions_scored']} of {observer['regions']} boxes scored); "
                     f"{observer.get('unlabeled_ranked', 0)} unlabelled task(s) ranked.</p>")
    if observer.get("version"):
        pushed = ("head unchanged, not pushed again" if observer.get("unchanged") else
                  f"{observer.get('pushed', 0)} prediction(s) pushed")
        parts.append(f"<p>Label Studio serves <b>{esc(observer['version'])}</b> ({pushed}; each carries the other "
                     "backend's boxes with labelsieve's rank as its score).</p>")
    read = observer.get("read")
    if read:
        parts.append(f"<p class='note'>Last read: {esc(read.get('how'))}, {read.get('tasks_read')} task(s) listed in "
                     f"{read.get('requests')} request(s), {read.get('seconds')} s.</p>")
    for key in ("message", "error"):
        if observer.get(key):
            parts.append(f'<p class="empty"><b>{esc(observer[key])}</b></p>')
    return "".join(parts)
