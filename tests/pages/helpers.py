"""Projects trained through webhooks for the page tests: digits as images under a document root."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from tests.api.helpers import digit_task
from tests.factories import IMAGE_CONFIG, annotation_event, predict_payload, setup_payload


def served_next(app: FastAPI, project_id: int, tasks: list[dict[str, Any]], labelled: set[int],
                n: int) -> list[dict[str, Any]]:
    """What Label Studio would serve next: the serving version's lowest scores among unlabelled tasks."""
    with session_scope(app.state.service.engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        assert project is not None and project.model_version, "no model is serving"
        ranked = rankings.ranked_tasks(session=session, project_id=project_id, version=project.model_version)
    by_id = {t["id"]: t for t in tasks}
    return [by_id[p.task_id] for p in ranked if p.task_id not in labelled and p.task_id in by_id][:n]


def wait_idle(app: FastAPI, project_id: int, timeout: float = 300.0) -> None:
    """Apply the batch just posted and retrain once: the app runs with ``start_workers=False``, so webhooks only
    fill the inbox and no retrain can start halfway through a batch on a slow machine; this wakes the worker."""
    app.state.service.worker.notify(project_id)
    assert app.state.service.worker.wait_idle(timeout), "worker did not go idle"


def train_digits(client: httpx.Client, app: FastAPI, project_id: int, paths: list[str], labels: Any, *, rounds: int,
                 per_round: int = 20, pool: int = 200, extra: dict[str, Any] | None = None,
                 first_annotation: int = 1) -> list[dict[str, Any]]:
    """Set the project up through ``client`` (a TestClient or an httpx client of a live server), show Label
    Studio's pool through /predict, then label ``rounds`` batches by webhook, each after the first taken from
    the served ranking (one retrain after each). Returns the pool's task dicts."""
    settings = {"learner": "image", "learner_params": {"epochs": 8}, "batch_size": 10, **(extra or {})}
    assert client.post("/setup", json=setup_payload(project_id, IMAGE_CONFIG, settings)).status_code == 200
    tasks = [digit_task(project_id * 10000 + i, paths[i], project_id) for i in range(pool)]
    assert client.post("/predict", json=predict_payload(project_id, IMAGE_CONFIG, tasks)).status_code == 200
    annotation_id = first_annotation
    labelled: set[int] = set()
    for r in range(rounds):
        batch = tasks[:per_round] if r == 0 else served_next(app, project_id, tasks, labelled, per_round)
        for task in batch:
            labelled.add(task["id"])
            i = task["id"] - project_id * 10000
            event = annotation_event("ANNOTATION_CREATED", annotation_id=annotation_id, task=task,
                                     project_id=project_id, config=IMAGE_CONFIG, from_name="label",
                                     to_name="image", choice=str(labels[i]))
            assert client.post("/webhook", json=event).status_code == 200
            annotation_id += 1
        wait_idle(app, project_id)
    return tasks
