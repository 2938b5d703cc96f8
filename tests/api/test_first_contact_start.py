"""Starting a first contact is idempotent: once per project (also after a restart), never twice at once, retried by a
later ``/setup`` after a failure; while it syncs, the worker's pool refresh leaves the project's task list to it.
Label Studio is a loopback server answering the few requests a first contact makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import TEXT_CONFIG
from tests.reliability.loopback import CountingServer

TASKS = [{"id": i, "data": {"text": f"task {i}"}, "annotations": []} for i in (1, 2, 3)]
ANNOTATED = [dict(TASKS[0], annotations=[{"id": 11, "result": [{"from_name": "topic", "to_name": "text",
                                                                "type": "choices", "value": {"choices": ["food"]}}]}])]


def fake_label_studio(pid: int) -> CountingServer:
    ls = CountingServer().start()
    ls.routes[f"/api/projects/{pid}/"] = (200, {"id": pid, "task_number": 3})
    ls.routes[f"/api/projects/{pid}/export"] = (200, ANNOTATED)  # download_all_tasks=false: annotated tasks only
    ls.routes["/api/tasks/"] = (200, {"tasks": [{"id": t["id"], "data": t["data"]} for t in TASKS], "total": 3})
    return ls


def first_contact(service, rounds: list[int]):
    from labelsieve.service.first_contact import FirstContact

    return FirstContact(engine=service.engine, gateway=service.gateway, round_for=rounds.append,
                        state_dir=service.settings.data_dir / "first_contact")


def test_first_contact_runs_once_per_project_and_survives_a_restart(settings_factory) -> None:
    from labelsieve.service.container import build_service

    ls = fake_label_studio(5)
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                                             start_workers=False))
    rounds: list[int] = []
    try:
        service.loop.setup_project(project_id=5, label_config=TEXT_CONFIG)
        contact = first_contact(service, rounds)
        assert contact.start(5) is True
        assert contact.start(5) is False, "never twice at the same time"
        assert contact.wait(5, timeout=60)
        assert contact.start(5) is False, "once per project"
        progress = contact.progress(5)
        assert progress["state"] == "done" and progress["tasks_synced"] == 3 and progress["tasks_total"] == 3
        assert progress["annotations"] == 1 and progress["rounds"] == ["first-head"] and rounds == [5]
        assert service.loop.project(5).annotations_since_train == 1, "the existing label counts for the next retrain"
        exports = [path for path, _ in ls.requests if path.startswith("/api/projects/5/export")]
        assert len(exports) == 1 and "download_all_tasks=false" in exports[0], "only the annotated tasks exported"

        again = first_contact(service, rounds)  # a restart: the marker on disk says it is done
        assert again.start(5) is False and again.progress(5)["state"] == "done" and rounds == [5]
    finally:
        service.stop()
        ls.stop()


def test_a_failed_first_contact_shows_and_a_later_setup_retries_it(settings_factory, monkeypatch) -> None:
    from labelsieve.service import first_contact as module
    from labelsieve.service.container import build_service

    ls = fake_label_studio(6)
    ls.routes["/api/projects/6/"] = (500, {"detail": "boom"})
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                                             start_workers=False))
    rounds: list[int] = []
    try:
        service.loop.setup_project(project_id=6, label_config=TEXT_CONFIG)
        contact = first_contact(service, rounds)
        assert contact.start(6) and contact.wait(6, timeout=60)
        failed = contact.progress(6)
        assert failed["state"] == "failed" and "HTTP 500" in failed["error"]
        assert [c["project_id"] for c in contact.active()] == [6], "/health lists it"
        assert contact.start(6) is False, "not retried at once (Label Studio calls /setup again and again)"
        monkeypatch.setattr(module, "RETRY_SECONDS", 0.0)
        ls.routes["/api/projects/6/"] = (200, {"id": 6, "task_number": 3})
        assert contact.start(6) is True and contact.wait(6, timeout=60)
        done = contact.progress(6)
        assert done["state"] == "done" and done["attempts"] == 2 and rounds == [6]
        assert contact.active() == []
    finally:
        service.stop()
        ls.stop()


def test_the_worker_pool_refresh_waits_while_a_first_contact_syncs(settings_factory, monkeypatch,
                                                                   tmp_path: Path) -> None:
    from labelsieve.service.container import build_service

    held = tmp_path / "held"
    monkeypatch.setenv("LABELSIEVE_TEST_BLOCK_SYNC", str(held))
    ls = fake_label_studio(7)
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                                             start_workers=False))
    contact = service.first_contact
    assert contact is not None
    contact.round_for = lambda _pid: None  # no worker round in this test
    try:
        service.loop.setup_project(project_id=7, label_config=TEXT_CONFIG)
        assert contact.start(7)
        wait_file(held)
        assert held.read_text().split() == ["7", "2"]
        listed = len([p for p, _ in ls.requests if p.startswith("/api/tasks/")])
        assert service.gateway.new_tasks(7) == [] and service.gateway.task_sync.last.how == "first-contact"
        assert len([p for p, _ in ls.requests if p.startswith("/api/tasks/")]) == listed, "nothing asked meanwhile"
        assert contact.progress(7)["state"] == "syncing"
        held.with_name(held.name + ".release").write_text("")
        assert contact.wait(7, timeout=60) and contact.progress(7)["state"] == "done"
    finally:
        held.with_name(held.name + ".release").write_text("")
        service.stop()
        ls.stop()


def wait_file(path: Path, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.05)
