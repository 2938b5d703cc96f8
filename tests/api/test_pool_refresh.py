"""Before a retrain the pool is refreshed from Label Studio; the full export only runs when its task count differs."""

from __future__ import annotations

from tests.e2e.helpers import TEXT_CONFIG
from tests.reliability.loopback import CountingServer


def test_pool_refresh_exports_only_when_label_studio_has_other_tasks(settings_factory) -> None:
    from labelsieve.service.container import build_service
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    ls = CountingServer().start()
    tasks = [{"id": i, "data": {"text": f"task {i}"}, "annotations": []} for i in (1, 2, 3)]
    ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 3})
    ls.routes["/api/projects/5/export"] = (200, tasks)
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key="legacy-key-123",
                                             start_workers=False))

    def exports() -> int:
        return sum(path.startswith("/api/projects/5/export") for path, _ in ls.requests)

    try:
        service.loop.setup_project(project_id=5, label_config=TEXT_CONFIG)
        assert [t["id"] for t in service.gateway.new_tasks(5)] == [1, 2, 3]  # we know none of Label Studio's 3 tasks
        with session_scope(service.engine) as session:
            crud.upsert_tasks(session=session, project_id=5, tasks=tasks)
        assert service.gateway.new_tasks(5) == [] and exports() == 1  # same count: no export
        ls.routes["/api/projects/5/"] = (200, {"id": 5, "task_number": 4})  # a task was imported in Label Studio
        assert len(service.gateway.new_tasks(5)) == 3 and exports() == 2
        del ls.routes["/api/projects/5/"]  # cannot read the project: export rather than miss tasks
        assert len(service.gateway.new_tasks(5)) == 3 and exports() == 3
    finally:
        service.stop()
        ls.stop()
