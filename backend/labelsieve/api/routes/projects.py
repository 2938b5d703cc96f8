"""What labelsieve knows about a project: serving version, counts, class balance, last round."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from labelsieve.api.deps import ProjectIdPath, ServiceDep
from labelsieve.service import status
from labelsieve.service.project_settings import ProjectSettingsError
from labelsieve.service.status import ProjectStatus
from labelsieve.storage.db import session_scope
from labelsieve.storage.preannotation import gate_for

router = APIRouter(tags=["projects"])


@router.get("/projects/{project_id}", response_model=ProjectStatus)
def project_status(project_id: ProjectIdPath, service: ServiceDep, request: Request) -> ProjectStatus:
    """Serving model version, task/annotation counts, class balance and the latest query round."""
    publisher = service.loop.publisher  # None in a service without Label Studio
    queue_of = publisher.queue if publisher is not None else None  # the head of the queue pushed to Label Studio
    found = status.project_status(service.engine, project_id, queue_of=queue_of)
    if found is None:
        raise HTTPException(status_code=404, detail=f"project {project_id} is not set up")
    # the background removal of stale versions in Label Studio (the status field keeps its name, prune)
    found.prune = None if publisher is None else publisher.stale_versions_status(project_id)
    found.page = str(request.base_url).rstrip("/") + f"/projects/{project_id}/page"  # the HTML view
    # webhook events waiting on Label Studio: count, oldest, why (URL tried, last error) and the fix
    found.waiting = service.waits.describe(project_id)
    try:  # the project's resolved settings, as its rounds read them
        threshold = service.loop.settings_of(service.loop.project(project_id)).settings.preannotate_threshold
    except ProjectSettingsError:  # stored settings no longer resolve (a plugin gone): the status says the rest
        threshold = None
    if threshold is not None:
        with session_scope(service.engine) as session:  # a pre-ticked answer now, or the score only
            found.preannotation = gate_for(session=session, project_id=project_id, threshold=threshold).as_dict()
    if service.text_features is not None:  # tfidf | embeddings, and the pool's encoding progress
        found.text_features = service.text_features.describe(service.engine, project_id, found.model_version)
    if service.first_contact is not None:  # the background sync of the project's first /setup, and its rounds
        found.first_contact = service.first_contact.progress(project_id)
    if service.observer is not None and service.observer.observes(project_id):  # observer mode's last round
        found.observer = service.observer.status(project_id) or {"mode": "observer",
                                                                 "message": "no observer round yet"}
    if service.cold_start is not None:  # a label-free first head while there are too few labels for a model
        found.cold_start = service.cold_start.status(project_id)
    if service.image_features is not None:  # encoder | pixels, and the pool's encoding progress
        found.image_features = service.image_features.describe(project_id)
    return found
