"""The project page's label-issue section: the newest scorecard's review and prune candidates, worst first."""

from __future__ import annotations

from typing import Any

from labelsieve.quality.store import latest_scorecard, scorecard_stamp
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
    """``{"candidates": [...], "scorecard": {...}}`` from the newest scorecard, or None when it has no candidate."""
    version, rows, meta = latest_scorecard(service.artifacts, project_id, _ready_versions(service, project_id))
    candidates = [{"task_id": r.task_id, "given": r.label, "suggested": r.suggested_label, "score": r.issue_score,
                   "recommendation": r.recommendation} for r in rows if r.recommendation != "keep"]
    if not candidates:
        return None
    summary = {k: v for k, v in dict(meta.get("summary", {})).items() if not isinstance(v, dict | list)}
    return {"candidates": candidates, "scorecard": {"model version": version, **summary}}
