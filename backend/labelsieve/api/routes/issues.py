"""``GET /projects/{id}/issues``: label-issue candidates worst first, with value and recommendation."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from labelsieve.api.deps import ProjectIdPath, ServiceDep
from labelsieve.quality.review_payload import review_version
from labelsieve.quality.scorecard_files import latest_scorecard, load_review
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

router = APIRouter(tags=["quality"])


class IssueItem(BaseModel):
    task_id: int
    annotation_id: int
    label: str
    suggested_label: str
    issue_score: float
    flagged: bool
    value: float | None  # None for region task types (multi-label, spans, boxes): no class per item to value
    influence: float | None
    uncertainty: float
    duplicate_of: int | None
    recommendation: str
    reason: str
    wrong_probability: float | None = None  # posterior that the given label is wrong; None in older scorecards
    review_result: list[dict[str, object]] | None = None  # region task types: the review prediction's result


class IssuesResponse(BaseModel):
    project_id: int
    model_version: str | None
    scored_version: str | None  # the version whose scorecard this is (the serving one's may still be computing)
    review_model_version: str | None  # the Label Studio prediction version carrying the suggestions
    review: dict[str, object] | None  # once pushed: predictions sent, Data Manager tab id, old versions deleted
    status: str  # ready | computing | disabled | no_model
    summary: dict[str, object]
    pruned_annotations: list[int]  # left out of the serving version's training set (prune: "flagged")
    candidates: list[IssueItem]


@router.get("/projects/{project_id}/issues", response_model=IssuesResponse)
def project_issues(
    project_id: ProjectIdPath, service: ServiceDep,
    include_keep: bool = Query(False, description="list every labelled item, not only review/prune"),
) -> IssuesResponse:
    """The latest scorecard of the project, candidates (review / prune) worst first."""
    with session_scope(service.engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            raise HTTPException(status_code=404, detail=f"project {project_id} is not set up")
        versions = [v for v in crud.list_model_versions(session=session, project_id=project_id)
                    if v.status == "ready"]
    serving = project.model_version or None
    enabled = bool(service.loop.settings_of(project).settings.label_issues)
    pruned = next((list(v.metrics.get("pruned", [])) for v in versions if v.version == serving), [])
    scored, rows, meta = latest_scorecard(service.artifacts, project_id, [v.version for v in versions])
    if not enabled:
        status = "disabled"
    elif serving is None:
        status = "no_model"
    else:
        status = "ready" if scored == serving else "computing"
    items = [IssueItem(**{k: getattr(r, k) for k in IssueItem.model_fields}) for r in rows
             if include_keep or r.recommendation != "keep"]
    return IssuesResponse(
        project_id=project_id, model_version=serving, scored_version=scored,
        review_model_version=review_version(scored) if scored else None, status=status,
        review=load_review(service.artifacts, project_id, scored) if scored else None,
        summary=dict(meta.get("summary", {})), pruned_annotations=pruned, candidates=items,
    )
