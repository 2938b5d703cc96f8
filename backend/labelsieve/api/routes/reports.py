"""``GET /projects/{id}/report``: a live project's prequential learning curve and projected labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from labelsieve.api.deps import ServiceDep
from labelsieve.report import prequential
from labelsieve.report.prequential import ProjectReport

router = APIRouter(tags=["reports"])


@router.get("/projects/{project_id}/report", response_model=ProjectReport)
def project_report(
    project_id: Annotated[int, Path(ge=1, lt=2**63)], service: ServiceDep,
    target: float | None = Query(None, gt=0.0, le=1.0, description="Target accuracy (default: 95% of the plateau)."),
    target_fraction: float = Query(0.95, gt=0.0, le=1.0, description="Target as a fraction of the fitted plateau."),
) -> ProjectReport:
    """Prequential accuracy per model version (each batch scored before training on it) and a projection."""
    found = prequential.project_report(service.engine, project_id, target=target, target_fraction=target_fraction)
    if found is None:
        raise HTTPException(status_code=404, detail=f"project {project_id} is not set up")
    return found
