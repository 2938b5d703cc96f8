"""The Label Studio ML-backend protocol: /health /setup /predict /webhook /versions."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
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
from labelsieve.quality.driftjob import drift_alerts
from labelsieve.service import events, status
from labelsieve.service.predict import predict_tasks
from labelsieve.service.project_settings import ProjectSettingsError
from labelsieve.service.setup_check import REFUSED_PREFIX, refused_location, refused_message
from labelsieve.service.waiting import backlog
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

router = APIRouter(tags=["label-studio"])
log = logging.getLogger(__name__)


@router.get("/health", response_model=HealthResponse)
@router.get("/", response_model=HealthResponse, include_in_schema=False)
def health(service: ServiceDep, request: Request) -> HealthResponse:
    """Liveness, as Label Studio checks it before every call (must be JSON, any 2xx is healthy to it).

    ``DEGRADED`` (still HTTP 200, so Label Studio keeps the backend connected and /predict keeps serving) when
    webhook events wait on Label Studio; ``reason`` names the URL tried and the setting that fixes it."""
    with session_scope(service.engine) as session:
        project_ids = [int(p.id) for p in crud.list_projects(session=session)]
        projects = len(project_ids)
        queue = crud.count_pending_events(session=session)
    drift = drift_alerts(service.engine, project_ids)
    waits = service.waits.waiting()
    waiting = [{"project": project_id, "events": backlog(service.engine, project_id).events, "reason": w.reason,
                "label_studio_url": w.url, "since": w.since.isoformat(), "last_error": w.last_error}
               for project_id, w in sorted(waits.items())]
    reason = None
    if waits:
        first = waits[min(waits)]
        reason = (f"{sum(w['events'] for w in waiting)} webhook event(s) of project(s) {sorted(waits)} wait on "
                  f"Label Studio: {first.last_error}. Fix: {first.fix}")
    return HealthResponse(version=__version__, projects=projects, queue_length=queue,
                          status="DEGRADED" if waits else "UP", reason=reason,
                          waiting_events=sum(w["events"] for w in waiting), waiting_projects=waiting,
                          plugins_ready=service.plugins_ready.is_set(),
                          embedding_jobs=[] if service.text_features is None
                          else service.text_features.jobs(running_only=True),
                          first_contacts=[] if service.first_contact is None else service.first_contact.active(),
                          page=str(request.base_url).rstrip("/") + INDEX_PATH, drift=drift)


@router.post("/setup", response_model=SetupResponse, responses={307: {"description": "refused: see below"}})
def setup(body: SetupRequest, service: ServiceDep) -> SetupResponse | RedirectResponse:
    """Register or update a project; refuse configs and settings we cannot serve (HTTP 400).

    With webhook verification on, a Label Studio this backend cannot reach with the URL and key it would use is
    refused too: a 307 to ``/setup/refused/<message>`` (400), because Label Studio shows the URL of a failed
    ``/setup``, never its body (see :mod:`labelsieve.service.setup_check`)."""
    try:
        version = service.loop.setup_project(
            project_id=body.project_id, label_config=body.schema_, extra_params=body.extra_params,
            hostname=body.hostname, access_token=body.access_token,
        )
    except (UnsupportedLabelConfig, ProjectSettingsError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    problem = service.setup_check.problem(project_id=body.project_id, hostname=body.hostname,
                                          access_token=body.access_token)
    if problem is not None:
        log.warning("/setup of project %s refused: %s", body.project_id, problem)
        return RedirectResponse(refused_location(problem), status_code=307)
    if service.first_contact is not None and service.settings.first_contact and service.settings.start_workers:
        service.first_contact.start(body.project_id)  # once per project, in the background (never blocks /setup)
    if service.observer is not None and service.settings.start_workers and service.observer.wants_round(
            body.project_id):  # observer mode: rank at once, then every observe_poll_seconds
        service.worker.notify(body.project_id, force=True)
    return SetupResponse(model_version=version)


@router.post(REFUSED_PREFIX + "{message:path}", include_in_schema=False)
def setup_refused(message: str) -> None:
    """The end of a refused ``/setup``: 400 with the message (also readable in the URL Label Studio prints)."""
    raise HTTPException(status_code=400, detail=refused_message(message))


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
async def webhook(body: WebhookPayload, service: ServiceDep) -> WebhookResponse:
    """Store the event durably, queue the work, acknowledge at once; unknown actions are ignored.

    Async: the request waits for the group commit of the webhooks that arrived with it (service/intake.py) on a
    future of the event loop, so a burst does not take a thread of the pool per waiting request."""
    service.metrics.webhook_events.labels(body.action if body.action in events.HANDLED_ACTIONS else "other").inc()
    try:
        if service.intake is not None:
            event = await events.accept_async(body, service.intake)
        else:
            event = await run_in_threadpool(events.accept, service.engine, body)
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
