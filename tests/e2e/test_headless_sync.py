"""The headless ``labelsieve loop`` against a real Label Studio 1.23.2: it exports the project on its first poll only.

Later polls list the tasks Label Studio changed since the last one (``updated_at``), export those by id, and read the
task count; new and deleted annotations, new and deleted tasks all reach labelsieve without another full export."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from tests.e2e.helpers import annotate, create_project, first_headless_round, text_dataset

EXTRA = {"learner": "text", "strategy": "margin", "min_annotations": 10, "retrain_every": 1, "queue_depth": 10}


REQUEST = re.compile(r'"((?:GET|POST|PATCH|DELETE) /api/.*?) HTTP/1\.[01]"')


def requests_since(ls, mark: int) -> list[str]:
    """Request lines (method, path and decoded query) Label Studio logged since ``mark``."""
    lines = ls.log_path.read_text(errors="replace")[mark:].splitlines()
    return [m.group(1) for line in lines for m in [REQUEST.search(unquote_plus(line))] if m]


def test_headless_loop_does_not_export_after_its_first_poll(label_studio, settings_factory) -> None:
    from labelsieve.service.container import build_service
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    ls = label_studio
    pid, truth = create_project(ls, "headless without exports", text_dataset(80, seed=3))
    service = build_service(settings_factory(label_studio_url=ls.url, label_studio_api_key=ls.token,
                                             start_workers=False))
    try:
        live, order, ann_ids, summary = first_headless_round(service, ls, pid, truth, EXTRA, n_first=12)
        assert summary.status == "trained"
        mark = len(ls.log_path.read_text(errors="replace"))

        quiet = live.sync_once()
        assert not quiet.changed and quiet.status == "unchanged"
        annotate(ls, order[12], truth[order[12]])  # a new annotation
        assert ls.api("DELETE", f"/api/annotations/{ann_ids[0]}/").status_code == 204  # a deleted one
        added = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                       json=[{"text": "a new task about the match"}, {"text": "rain and wind tonight"}]).json()
        assert ls.api("DELETE", f"/api/tasks/{order[-1]}/").status_code == 204  # an unlabelled task deleted
        busy = live.sync_once()
        assert busy.changed and busy.status == "trained"
        with session_scope(service.engine) as session:
            labelled = {task.id for task, _ in crud.labeled_examples(session=session, project_id=pid)}
            tasks = crud.task_ids(session=session, project_id=pid)
        assert labelled == set(order[1:13])
        assert tasks == (set(order[:-1]) | set(added["task_ids"]))
        assert live.sync_once().status == "unchanged"

        exports = [r for r in requests_since(ls, mark) if "/export" in r]
        assert exports, "the changed tasks are exported by id"
        assert all("ids[]=" in r for r in exports), f"a full export after the first poll: {exports}"
        assert max(r.count("ids[]=") for r in exports) <= EXTRA["queue_depth"] + 5, \
            "a poll exports what changed, not the project"
        listings = [r for r in requests_since(ls, mark) if r.startswith("GET /api/tasks/?")]
        assert listings and all("tasks:updated_at" in r for r in listings if "include=id" not in r)
    finally:
        service.stop()
