"""Prometheus metrics in text format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from labelsieve.api.deps import ServiceDep
from labelsieve.quality.driftjob import project_drift
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
def metrics(service: ServiceDep) -> Response:
    """Requests and latencies, retrains and their duration, queue length, failures."""
    service.worker.update_queue_gauge()
    service.waits.refresh_gauge()
    with session_scope(service.engine) as session:
        project_ids = [int(p.id) for p in crud.list_projects(session=session)]
    for project_id in project_ids:  # the newest drift check of each project (quality/driftjob.py)
        found = project_drift(service.engine, project_id)
        if found:
            service.metrics.set_drift(project_id, found)
    return Response(content=service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
