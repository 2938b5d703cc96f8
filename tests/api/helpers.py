from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import IMAGE_CONFIG, annotation_event, ls_task


def digit_task(task_id: int, path: str, project_id: int) -> dict[str, Any]:
    return ls_task(task_id, {"image": f"/data/local-files/?d={path}"}, project_id)


def annotate_digits(client: TestClient, project_id: int, paths: list[str], labels, ids, first_id: int = 5000) -> None:
    for n, i in enumerate(ids):
        task = digit_task(1000 + int(i), paths[int(i)], project_id)
        event = annotation_event("ANNOTATION_CREATED", annotation_id=first_id + n, task=task, project_id=project_id,
                                 config=IMAGE_CONFIG, from_name="label", to_name="image", choice=str(labels[int(i)]))
        response = client.post("/webhook", json=event)
        assert response.status_code == 200, response.text


def wait_trained(client: TestClient, timeout: float = 180.0) -> None:
    assert client.app.state.service.worker.wait_idle(timeout), "worker did not go idle"
