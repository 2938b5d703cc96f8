"""A backend that cannot use Label Studio says so where the user looks, never silently.

In-process app against a loopback Label Studio stand-in (the real Label Studio runs in
tests/e2e/test_live_faults.py): a refused key makes webhook events wait, and ``/health``, ``GET /projects/{id}``,
``/metrics`` and a WARNING name the URL and the fix; ``/setup`` refuses a Label Studio it cannot reach.
"""

from __future__ import annotations

import logging
import time

from tests.factories import TEXT_CONFIG, annotation_event, ls_task, setup_payload
from tests.harness.net import free_port
from tests.reliability.loopback import CountingServer

P = 71


def _event(annotation_id: int) -> dict:
    return annotation_event("ANNOTATION_CREATED", annotation_id=annotation_id,
                            task=ls_task(annotation_id, {"text": "good fun"}, P), project_id=P, config=TEXT_CONFIG,
                            from_name="sentiment", to_name="text", choice="Positive")


def _until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_refused_key_makes_events_wait_visibly_and_they_apply_when_fixed(client_factory, caplog) -> None:
    ls = CountingServer().start()
    ls.routes[f"/api/projects/{P}/"] = (200, {"id": P, "task_number": 0})
    try:
        with client_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                            debounce_seconds=0.05) as client, caplog.at_level(logging.WARNING):
            assert client.post("/setup", json=setup_payload(P, TEXT_CONFIG)).status_code == 200
            for n in (501, 502, 503):
                ls.routes[f"/api/annotations/{n}/"] = (401, {"detail": "Invalid token."})
                assert client.post("/webhook", json=_event(n)).json()["status"] == "queued"
            assert _until(lambda: client.get(f"/projects/{P}").json()["waiting"]["state"] != "ok")

            waiting = client.get(f"/projects/{P}").json()["waiting"]
            assert waiting["state"] == "waiting_for_label_studio" and waiting["reason"] == "key_refused"
            assert waiting["events"] == 3 and waiting["oldest_event_at"] and waiting["label_studio_url"] == ls.url
            assert "HTTP 401" in waiting["last_error"] and "LABEL_STUDIO_API_KEY" in waiting["fix"]
            assert "LABELSIEVE_VERIFY_WEBHOOKS=false" in waiting["fix"]
            health = client.get("/health")
            assert health.status_code == 200  # Label Studio keeps a degraded backend connected (2xx + JSON)
            body = health.json()
            assert body["status"] == "DEGRADED" and body["waiting_events"] == 3
            assert ls.url in body["reason"] and "LABEL_STUDIO_API_KEY" in body["reason"]
            metrics = client.get("/metrics").text
            assert f'labelsieve_events_waiting_for_label_studio{{project="{P}"}} 3.0' in metrics
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any(ls.url in m and "LABEL_STUDIO_API_KEY" in m and "wait" in m for m in warnings), warnings

            for n in (501, 502, 503):  # the key is fixed: Label Studio answers
                ls.routes[f"/api/annotations/{n}/"] = (200, _event(n)["annotation"])
            assert _until(lambda: client.get(f"/projects/{P}").json()["waiting"]["state"] == "ok")
            assert client.app.state.service.worker.wait_idle(60)
            status = client.get(f"/projects/{P}").json()
            assert status["annotations"] == 3 and status["waiting"]["events"] == 0
            assert client.get("/health").json()["status"] == "UP"
            assert f'labelsieve_events_waiting_for_label_studio{{project="{P}"}} 0.0' in client.get("/metrics").text
    finally:
        ls.stop()


def test_setup_refuses_a_label_studio_it_cannot_reach_naming_url_and_setting(client_factory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with client_factory(label_studio_url=dead, label_studio_api_key="legacy-key-123") as client:
        started = time.perf_counter()
        refused = client.post("/setup", json=setup_payload(P, TEXT_CONFIG), follow_redirects=False)
        assert time.perf_counter() - started < 3.0  # inside Label Studio's /setup timeout, even when refused
        assert refused.status_code == 307
        assert refused.headers["location"].startswith("/setup/refused/")
        followed = client.post("/setup", json=setup_payload(P, TEXT_CONFIG))  # what Label Studio's requests does
        assert followed.status_code == 400
        detail = followed.json()["detail"]
        assert dead in detail and "LABEL_STUDIO_URL" in detail and "LABELSIEVE_SETUP_CHECKS_LABEL_STUDIO" in detail
        # Label Studio prints the final URL of a failed /setup: the message is readable there too
        assert dead in str(followed.url) and "LABEL_STUDIO_URL" in str(followed.url)


def test_setup_check_can_be_turned_off_and_needs_verification(client_factory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with client_factory(label_studio_url=dead, label_studio_api_key="k", setup_checks_label_studio=False) as client:
        assert client.post("/setup", json=setup_payload(P, TEXT_CONFIG)).status_code == 200
    with client_factory(label_studio_url=dead, label_studio_api_key="k", verify_webhooks=False) as client:
        assert client.post("/setup", json=setup_payload(P, TEXT_CONFIG)).status_code == 200
