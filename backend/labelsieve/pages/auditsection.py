"""The project page's "Data audit" section: the counts of the latest ``GET /projects/{id}/audit`` (computed on
request, seconds to a minute: never on a page render) and how to refresh it."""

from __future__ import annotations

from typing import Any

from labelsieve.pages.sections import esc, table


def audit_section(found: dict[str, Any] | None, project_id: int) -> str:
    link = f'<a href="/projects/{project_id}/audit">/projects/{project_id}/audit</a>'
    if not found:
        return (f'<p class="empty">No audit yet: open {link} (or run <code>labelsieve audit --project '
                f"{project_id}</code>) to check duplicates, conflicting labels, outliers, blank inputs and order.</p>")
    tasks = found.get("tasks", {})
    rows = [[esc(k.replace("_", " ")), esc(v)] for k, v in (found.get("counts") or {}).items()]
    return (f"<p>Version {esc(found.get('version'))}: {tasks.get('audited')} of "
            f"{int(tasks.get('labelled', 0)) + int(tasks.get('pool', 0))} tasks audited"
            f"{' (a sample)' if tasks.get('sampled') else ''}. Refresh: {link}.</p>"
            + table(["check", "count"], rows, "audit"))
