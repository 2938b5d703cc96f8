"""``GET /projects/{id}/audit``: duplicates (with conflicting labels) within and across labelled and pool,
outliers, blank or unreadable inputs, class and feature distributions, non-IID order (labelsieve.quality.audit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from labelsieve.api.deps import ProjectIdPath, ServiceDep
from labelsieve.quality.projectaudit import NoModelError, project_audit
from labelsieve.service.project_catalog import UnknownProjectError

router = APIRouter(tags=["quality"])


@router.get("/projects/{project_id}/audit")
async def audit_project(project_id: ProjectIdPath, service: ServiceDep) -> dict[str, Any]:
    """Computed on request on at most 20,000 tasks (seconds); the report says what was sampled."""
    try:
        return await run_in_threadpool(project_audit, service.loop, project_id)
    except UnknownProjectError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except NoModelError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
