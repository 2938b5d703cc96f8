"""The Label Studio ML-backend protocol: /health /setup /predict /webhook /versions."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from labelsieve import __version__
from labelsieve.api.deps import ServiceDep
from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.labelstudio.protocol import (
    HealthResponse,
    PredictRequest,
    PredictResponse,
    SetupRequest,
    SetupResponse,
    VersionsResponse,
    WebhookPayload,
    WebhookResponse,
)
from labelsieve.pages.render import INDEX_PATH
from labelsieve.service import events, status
from labelsieve.service.predict import predict_tasks
from labelsieve.service.project_settings import ProjectSettingsError

router = APIRouter(tags=["label-studio"])
log = logging.getLogger(__name__)


@router.get("/health", response_model=HealthResponse)
@router.get("/", response_model=HealthResponse, include_in_schema=False)
def health(service: ServiceDep, request: Request) -> HealthResponse:
    """Liveness, as Label Studio checks it before every call (must be JSON)."""
    found = status.health(service.engine, __version__)
    found.page = str(request.base_url).rstrip("/") + INDEX_PATH
    return found


@router.post("/setup", response_model=SetupResponse)
def setup(body: SetupRequest, service: ServiceDep) -> SetupResponse:
    """Register or update a project; refuse configs and settings we cannot serve (HTTP 400)."""
    try:
        version = service.loop.setup_project(
            project_id=body.project_id, label_config=body.schema_, extra_params=body.extra_params,
            hostname=body.hostname, access_token=body.access_token,
        )
    except (UnsupportedLabelConfig, ProjectSettingsError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return SetupResponse(model_version=version)


@router.post("/predict", response_model=PredictResponse, response_model_exclude_none=True)
async def predict(body: PredictRequest, service: ServiceDep) -> PredictResponse:
    """One prediction per task, in order; Label Studio drops the batch on any length mismatch."""
    limit = service.settings.max_predict_tasks
    if len(body.tasks) > limit:
        raise HTTPException(status_code=413, detail=f"{len(body.tasks)} tasks in one request; the limit is {limit}")
    if not body.tasks:
        raise HTTPException(status_code=422, detail="'tasks' is empty: send at least one task")
    try:  # a project /predict sets up on the fly gets /setup's checks and answers
        results, version = await run_in_threadpool(
            predict_tasks, service.loop, project_id=body.project_id, label_config=body.label_config, tasks=body.tasks
        )
    except (UnsupportedLabelConfig, ProjectSettingsError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return PredictResponse(results=results, model_version=version)


@router.post("/webhook", response_model=WebhookResponse)
def webhook(body: WebhookPayload, service: ServiceDep) -> WebhookResponse:
    """Store the event durably, queue the work, acknowledge at once; unknown actions are ignored."""
    service.metrics.webhook_events.labels(body.action if body.action in events.HANDLED_ACTIONS else "other").inc()
    try:
        event = events.accept(service.engine, body)
    except events.EventError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    if event is None:
        return WebhookResponse(status="ignored", action=body.action)
    if service.settings.start_workers:
        service.worker.notify(event.project_id)
    service.metrics.queue_length.inc()
    return WebhookResponse(status="queued", action=body.action, event_id=event.id)


@router.get("/versions", response_model=VersionsResponse)
def versions(service: ServiceDep, project: str | None = Query(default=None)) -> VersionsResponse:
    """Model versions (oldest first) of one project, or of all projects."""
    project_id = None
    if project is not None:
        try:
            project_id = int(project.split(".", 1)[0])
            if not 1 <= project_id < 2**63:
                raise ValueError("out of range")
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=f"project {project!r} is not an id") from exc
    found = status.versions(service.engine, project_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"project {project_id} is not set up")
    return found
