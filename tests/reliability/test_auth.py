"""Trust boundaries: Basic/bearer on every route but /webhook; webhooks checked by secret or by Label Studio."""

from __future__ import annotations

import base64
import time

import pytest

from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from tests.factories import TEXT_CONFIG, annotation_event, ls_task, setup_payload
from tests.reliability.loopback import CountingServer

PROJECT = 3


@pytest.fixture
def database_url(tmp_path) -> str:  # auth does not depend on the database: SQLite only
    return f"sqlite:///{tmp_path / 'auth.sqlite3'}"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _routes(app) -> list[tuple[str, str]]:
    """Every documented operation plus the undocumented ones (/, /docs, /openapi.json)."""
    found = [("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json")]
    for path, operations in app.openapi()["paths"].items():
        concrete = "/".join(str(PROJECT) if part.startswith("{") else part for part in path.split("/"))
        found += [(method.upper(), concrete) for method in operations]
    return found


def _event(annotation_id: int, task_id: int, choice: str, project_id: int = PROJECT) -> dict:
    task = ls_task(task_id, {"text": f"text of task {task_id}"}, project_id)
    return annotation_event("ANNOTATION_CREATED", annotation_id=annotation_id, task=task, project_id=project_id,
                            config=TEXT_CONFIG, from_name="sentiment", to_name="text", choice=choice)


def _stored(client) -> dict[int, tuple[int, list[str]]]:
    with session_scope(client.app.state.service.engine) as session:
        return {a.id: (a.task_id, list(a.labels)) for a in crud.list_annotations(session=session, project_id=PROJECT)}


def test_basic_and_bearer_guard_every_route_except_webhook(client_factory) -> None:
    with client_factory(basic_auth_user="ls", basic_auth_pass="s3cret", bearer_token="tok-123") as client:
        routes = _routes(client.app)
        assert ("GET", "/health") in routes and ("POST", "/predict") in routes and len(routes) >= 8
        for method, path in routes:
            if path == "/webhook":
                continue
            for headers in ({}, _basic("ls", "wrong"), {"Authorization": "Bearer nope"},
                            {"Authorization": "Bearer t\u00f6k".encode("latin-1")},
                            {"Authorization": "Basic !!notbase64"}):
                response = client.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.json()["detail"] == "authentication required"
                assert response.headers["WWW-Authenticate"].startswith("Basic")
            for headers in (_basic("ls", "s3cret"), {"Authorization": "Bearer tok-123"}):
                assert client.request(method, path, headers=headers).status_code != 401, (method, path)
        # Label Studio sends webhooks without auth: they are accepted (and checked in other ways)
        response = client.post("/webhook", json=_event(1, 11, "Positive"))
        assert response.status_code == 200 and response.json()["status"] == "queued"


def test_webhook_secret_missing_or_wrong_stores_nothing(client_factory) -> None:
    with client_factory(webhook_secret="hook-secret", start_workers=False) as client:
        missing = client.post("/webhook", json=_event(1, 11, "Positive"))
        assert missing.status_code == 401 and "x-labelsieve-webhook-secret" in missing.json()["detail"]
        wrong = client.post("/webhook", json=_event(2, 12, "Positive"),
                            headers={"X-Labelsieve-Webhook-Secret": "guess"})
        assert wrong.status_code == 403 and "does not match" in wrong.json()["detail"]
        odd = client.post("/webhook", json=_event(2, 12, "Positive"),
                          headers={"X-Labelsieve-Webhook-Secret": "h\u00e9".encode("latin-1")})
        assert odd.status_code == 403
        assert client.get("/health").json()["queue_length"] == 0
        good = client.post("/webhook", json=_event(3, 13, "Negative"),
                           headers={"X-Labelsieve-Webhook-Secret": "hook-secret"})
        assert good.status_code == 200 and good.json()["status"] == "queued"
        assert client.get("/health").json()["queue_length"] == 1


def test_forged_webhooks_are_checked_against_label_studio(client_factory) -> None:
    """With a Label Studio key, the backend stores Label Studio's copy of an annotation, never the webhook's."""
    with CountingServer() as ls:
        real = {"id": 900, "task": 11, "project": PROJECT, "was_cancelled": False, "ground_truth": False,
                "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                            "value": {"choices": ["Negative"]}}]}
        ls.routes["/api/annotations/900/"] = (200, real)
        ls.routes["/api/annotations/950/"] = (200, dict(real, id=950, project=PROJECT + 1))
        with client_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                            debounce_seconds=0.05) as client:
            assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG)).status_code == 200
            # 901 does not exist in Label Studio; 900 exists but says Negative on task 11;
            # 950 belongs to another project
            for event in (_event(901, 12, "Positive"), _event(900, 14, "Positive"), _event(950, 15, "Positive")):
                assert client.post("/webhook", json=event).status_code == 200
            assert client.app.state.service.worker.wait_idle(120)
            assert _stored(client) == {900: (11, ["Negative"])}
            assert ("/api/annotations/901/", "Token legacy-key-123") in ls.requests
            # nor can a forged webhook rewrite the data of a task the backend already has
            forged = _event(900, 14, "Positive")
            forged["task"]["data"] = {"text": "planted"}
            assert client.post("/webhook", json=forged).status_code == 200
            assert client.app.state.service.worker.wait_idle(120)
            with session_scope(client.app.state.service.engine) as session:
                assert crud.get_tasks(session=session, task_ids=[14])[14].data == {"text": "text of task 14"}

            # Label Studio down: the webhook waits in the inbox, then is applied when it is back
            port = ls.port
            ls.stop()
            assert client.post("/webhook", json=_event(900, 11, "Positive")).status_code == 200
            real["result"][0]["value"]["choices"] = ["Positive"]
            # the worker met the stopped Label Studio and says so (a known point, not a sleep)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and client.get("/health").json()["status"] != "DEGRADED":
                time.sleep(0.05)
            assert client.get("/health").json()["queue_length"] == 1
            assert _stored(client) == {900: (11, ["Negative"])}
            ls.start(port)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and client.get("/health").json()["queue_length"]:
                time.sleep(0.2)
            assert client.app.state.service.worker.wait_idle(120)
            assert _stored(client) == {900: (11, ["Positive"])}
