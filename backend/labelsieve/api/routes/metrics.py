"""Prometheus metrics in text format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from labelsieve.api.deps import ServiceDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
def metrics(service: ServiceDep) -> Response:
    """Requests and latencies, retrains and their duration, queue length, failures."""
    service.worker.update_queue_gauge()
    service.waits.refresh_gauge()
    return Response(content=service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
