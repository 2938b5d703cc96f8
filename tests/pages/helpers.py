"""Projects trained through webhooks for the page tests: digits as images under a document root."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import digit_task, wait_trained
from tests.factories import IMAGE_CONFIG, annotation_event, predict_payload, setup_payload


def train_digits(client: TestClient, project_id: int, paths: list[str], labels: Any, *, rounds: int,
                 per_round: int = 20, pool: int = 200, extra: dict[str, Any] | None = None,
                 first_annotation: int = 1) -> list[dict[str, Any]]:
    """Set the project up, show Label Studio's pool through /predict, then label ``rounds`` batches by webhook
    (one retrain after each). Returns the pool's task dicts."""
    settings = {"learner": "image", "learner_params": {"epochs": 3}, "batch_size": 10, **(extra or {})}
    assert client.post("/setup", json=setup_payload(project_id, IMAGE_CONFIG, settings)).status_code == 200
    tasks = [digit_task(project_id * 10000 + i, paths[i], project_id) for i in range(pool)]
    assert client.post("/predict", json=predict_payload(project_id, IMAGE_CONFIG, tasks)).status_code == 200
    annotation_id = first_annotation
    for r in range(rounds):
        for task in tasks[r * per_round:(r + 1) * per_round]:
            i = task["id"] - project_id * 10000
            event = annotation_event("ANNOTATION_CREATED", annotation_id=annotation_id, task=task,
                                     project_id=project_id, config=IMAGE_CONFIG, from_name="label",
                                     to_name="image", choice=str(labels[i]))
            assert client.post("/webhook", json=event).status_code == 200
            annotation_id += 1
        wait_trained(client)
    return tasks
