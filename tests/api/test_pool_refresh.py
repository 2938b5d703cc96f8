"""Before a retrain the pool is refreshed from Label Studio: the full export only on first contact or when the
task counts cannot be reconciled; new tasks come from a paged listing of the ids above the highest one known."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.e2e.helpers import TEXT_CONFIG
from tests.reliability.loopback import CountingServer


def test_pool_refresh_lists_new_tasks_and_exports_only_to_reconcile(settings_factory) -> None:
    from labelsieve.service.container import build_service
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    ls = CountingServer().start()
    tasks = [{"id": i, "data": {"text": f"task {i}"}, "annotations": []} for i in (1, 2, 3)]
    ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 3})
    ls.routes["/api/projects/5/export"] = (200, tasks)
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                                             start_workers=False))
    sync = service.gateway.new_tasks
    synced = service.gateway.task_sync

    def calls(prefix: str) -> list[str]:
        return [path for path, _ in ls.requests if path.startswith(prefix)]

    try:
        service.loop.setup_project(project_id=5, label_config=TEXT_CONFIG)
        assert [t["id"] for t in sync(5)] == [1, 2, 3] and synced.last.how == "first-export"
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=5, tasks=tasks)
        assert sync(5) == [] and len(calls("/api/projects/5/export")) == 1  # same count: nothing read
        ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 4})  # a task was imported in Label Studio
        ls.routes["/api/tasks/"] = (200, {"tasks": [{"id": 4, "data": {"text": "task 4"}}], "total": 1})
        assert sync(5) == [{"id": 4, "data": {"text": "task 4"}}] and synced.last.how == "new-tasks"
        assert len(calls("/api/projects/5/export")) == 1, "new tasks arrive without an export"
        query = parse_qs(urlsplit(calls("/api/tasks/")[-1]).query)
        assert query["project"] == ["5"] and query["fields"] == ["task_only"]
        assert json.loads(query["query"][0])["filters"]["items"][0]["value"] == 3  # ids above the highest known
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=5, tasks=[{"id": 4, "data": {"text": "task 4"}}])
        ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 2})  # two deleted, no webhook reached us
        ls.routes["/api/projects/5/export"] = (200, tasks[:2])
        assert len(sync(5)) == 2 and synced.last.how == "reconcile-export" and synced.last.deleted == 2
        with session_scope(service.engine) as session:
            assert crud.task_ids(session=session, project_id=5) == {1, 2}
    finally:
        service.stop()
        ls.stop()


def test_pool_refresh_exports_when_most_of_the_project_is_new(settings_factory) -> None:
    """A project connected after a few annotations arrived by webhook: listing the rest task by task would cost
    more than one export, so the export is read (and the listing is not)."""
    from labelsieve.service.container import build_service
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    ls = CountingServer().start()
    tasks = [{"id": i, "data": {"text": f"task {i}"}, "annotations": []} for i in range(1, 8)]
    ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 7})
    ls.routes["/api/projects/5/export"] = (200, tasks)
    ls.routes["/api/tasks/"] = (200, {"tasks": tasks[3:], "total": 4})
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                                             start_workers=False))
    try:
        service.loop.setup_project(project_id=5, label_config=TEXT_CONFIG)
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=5, tasks=tasks[:3])  # three known (their webhooks came)
        assert [t["id"] for t in service.gateway.new_tasks(5)] == list(range(1, 8))
        assert service.gateway.task_sync.last.how == "bulk-export" and service.gateway.task_sync.last.new == 4
        assert not [path for path, _ in ls.requests if path.startswith("/api/tasks/")], "no task listing"
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=5, tasks=tasks)
        ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 8})  # then one more: listed, not exported
        ls.routes["/api/tasks/"] = (200, {"tasks": [{"id": 8, "data": {"text": "task 8"}}], "total": 1})
        assert service.gateway.new_tasks(5) == [{"id": 8, "data": {"text": "task 8"}}]
        assert service.gateway.task_sync.last.how == "new-tasks"
        assert len([path for path, _ in ls.requests if path.startswith("/api/projects/5/export")]) == 1
    finally:
        service.stop()
        ls.stop()
