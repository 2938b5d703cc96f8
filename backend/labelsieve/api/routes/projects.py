"""What labelsieve knows about a project: serving version, counts, class balance, last round."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException

from labelsieve.api.deps import ServiceDep
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

router = APIRouter(tags=["projects"])


@router.get("/projects/{project_id}")
def project_status(project_id: int, service: ServiceDep) -> dict[str, Any]:
    """Serving model version, task/annotation counts, class balance and the latest query round."""
    with session_scope(service.engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            raise HTTPException(status_code=404, detail=f"project {project_id} is not set up")
        examples = crud.labeled_examples(session=session, project_id=project_id)
        versions = crud.list_model_versions(session=session, project_id=project_id)
        rounds = crud.list_query_rounds(session=session, project_id=project_id)
        n_tasks = crud.count_tasks(session=session, project_id=project_id)
        n_annotations = crud.count_annotations(session=session, project_id=project_id)
    counts = Counter(ann.labels[0] for _, ann in examples)
    ratio = max(counts.values()) / min(counts.values()) if counts else None
    last = rounds[-1] if rounds else None
    return {
        "id": project.id,
        "model_version": project.model_version or None,
        "settings": project.settings,
        "tasks": n_tasks,
        "annotations": n_annotations,
        "labeled_tasks": len(examples),
        "annotations_since_train": project.annotations_since_train,
        "class_counts": dict(counts),
        "imbalance_ratio": ratio,
        "versions": [
            {"version": v.version, "status": v.status, "n_train": v.n_train, "train_seconds": v.train_seconds,
             "error": v.error, "created_at": v.created_at.isoformat()}
            for v in versions
        ],
        "last_round": None if last is None else {
            "model_version": last.model_version, "strategy": last.strategy, "n_pool": last.n_pool,
            "batch": last.batch, "select_seconds": last.select_seconds,
        },
    }
