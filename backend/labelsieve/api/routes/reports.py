"""``GET /projects/{id}/report``: a live project's prequential learning curve and projected labels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from labelsieve.api.deps import ServiceDep
from labelsieve.report.prequential import live_report
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

router = APIRouter(tags=["reports"])


@router.get("/projects/{project_id}/report")
def project_report(
    project_id: Annotated[int, Path(ge=1, lt=2**63)], service: ServiceDep,
    target: float | None = Query(None, gt=0.0, le=1.0, description="Target accuracy (default: 95% of the plateau)."),
    target_fraction: float = Query(0.95, gt=0.0, le=1.0, description="Target as a fraction of the fitted plateau."),
) -> dict[str, Any]:
    """Prequential accuracy per model version (each batch scored before training on it) and a projection."""
    with session_scope(service.engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            raise HTTPException(status_code=404, detail=f"project {project_id} is not set up")
        annotations = crud.list_annotations(session=session, project_id=project_id)
        versions = crud.list_model_versions(session=session, project_id=project_id)
        rounds = crud.list_query_rounds(session=session, project_id=project_id)
    report = live_report(annotations, versions, rounds=rounds, target=target, target_fraction=target_fraction)
    report["project_id"] = project_id
    report["model_version"] = project.model_version or None
    report["rounds"] = [{"model_version": r.model_version, "strategy": r.strategy, "n_labeled": r.n_labeled,
                         "select_seconds": r.select_seconds, "audit": list(r.audit)} for r in rounds]
    return report
