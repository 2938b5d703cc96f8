"""The project page's label-issue section: the newest scorecard's review and prune candidates, worst first."""

from __future__ import annotations

from typing import Any

from labelsieve.quality.scorecard import ScoreRow
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
    return None if version is None else candidates_view(version, rows, meta)


def candidates_view(version: str, rows: list[ScoreRow], meta: dict[str, Any]) -> dict[str, Any]:
    """The section's data from one scorecard (see :func:`scorecard_candidates`)."""
    summary = dict(meta.get("summary", {}))
    gate = summary.get("gate") or {}
    card: dict[str, Any] = {"scored version": version, "labelled items": summary.get("items"),
                            "review": summary.get("review"), "prune": summary.get("prune")}
    if gate:
        card["candidates shown"] = "yes" if gate.get("shown") else f"no: {gate.get('reason')}"
    if gate.get("measure") not in (None, "none"):  # region task types (tasktypes.base.IssueGate)
        card[f"{gate['measure']} (level)"] = f"{gate['value']:.3f} ({gate['level']:.3f})"
        card["rarest class (level)"] = f"{gate['smallest']} ({gate['min_count']})"
    elif gate and "measure" not in gate:  # single-label (quality.issues.Reliability)
        card["out-of-fold accuracy (level)"] = f"{gate['oof_accuracy']:.3f} ({gate['min_oof_accuracy']:.3f})"
        card["smallest class (level)"] = f"{gate['min_class_count']} ({gate['min_per_class']})"
        card["estimated noise rate"] = f"{gate['noise_rate']:.3f}"
    candidates = [{"task_id": r.task_id, "given": r.label, "suggested": r.suggested_label,
                   "score": r.wrong_probability if r.wrong_probability is not None else r.issue_score,
                   "suggested_probability": r.suggested_confidence, "recommendation": r.recommendation,
                   "reason": r.reason}
                  for r in rows if r.recommendation != "keep"]
    score_name = "P(given label wrong)" if any(r.wrong_probability is not None for r in rows) else \
        "issue score (1 - cleanlab label quality)"
    return {"candidates": candidates, "scorecard": card, "score_name": score_name}
