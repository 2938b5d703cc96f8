"""The project page's label-issue section: the newest scorecard's review and prune candidates, worst first."""

from __future__ import annotations

from typing import Any

from labelsieve.quality.scorecard_files import latest_scorecard, scorecard_stamp
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope


def _ready_versions(service: Any, project_id: int) -> list[str]:
    with session_scope(service.engine) as session:
        return [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                if v.status == "ready"]


def scorecard_key(service: Any, project_id: int) -> tuple[str, int] | None:
    """Changes when a new scorecard is written (the quality job writes it after the retrain): part of the page key."""
    return scorecard_stamp(service.artifacts, project_id, _ready_versions(service, project_id))


def scorecard_candidates(service: Any, project_id: int) -> dict[str, Any] | None:
    """The newest scorecard's candidates worst first and the gate that decides whether any are shown, as
    ``{"candidates": [...], "scorecard": {...}}``; None when no version has a scorecard yet.

    ``score`` is the posterior probability that the *given* label is wrong (``quality.issues``), not the model's
    confidence in the suggested label; the latter is listed beside it."""
    version, rows, meta = latest_scorecard(service.artifacts, project_id, _ready_versions(service, project_id))
    if version is None:
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
