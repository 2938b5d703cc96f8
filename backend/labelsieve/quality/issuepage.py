"""The project page's label-issue section (``labelsieve.pages.hooks`` provider ``labelsieve.quality.issues:
page_section``): the latest scorecard's candidates worst first, and the gate that decides whether any are shown.

``score`` is the posterior probability that the *given* label is wrong (``quality.issues``), not the model's
confidence in the suggested label; the latter is listed beside it.
"""

from __future__ import annotations

from typing import Any

from labelsieve.quality.store import load_scorecard
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope


def page_section(service: Any, project_id: int) -> dict[str, Any] | None:
    with session_scope(service.engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            return None
        versions = [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                    if v.status == "ready"]
    for version in reversed(versions):
        rows, meta = load_scorecard(service.artifacts, project_id, version)
        if meta:
            break
    else:
        return None
    summary = dict(meta.get("summary", {}))
    gate = summary.get("gate") or {}
    card: dict[str, Any] = {"scored version": version, "labelled items": summary.get("items"),
                            "review": summary.get("review"), "prune": summary.get("prune")}
    if gate:
        card["candidates shown"] = "yes" if gate.get("shown") else f"no: {gate.get('reason')}"
        card["out-of-fold accuracy (level)"] = f"{gate['oof_accuracy']:.3f} ({gate['min_oof_accuracy']:.3f})"
        card["smallest class (level)"] = f"{gate['min_class_count']} ({gate['min_per_class']})"
        card["estimated noise rate"] = f"{gate['noise_rate']:.3f}"
    candidates = [{"task_id": r.task_id, "given": r.label, "suggested": r.suggested_label,
                   "score": r.wrong_probability if r.wrong_probability is not None else r.issue_score,
                   "suggested_probability": r.suggested_confidence, "recommendation": r.recommendation}
                  for r in rows if r.recommendation != "keep"]
    return {"candidates": candidates, "scorecard": card}
