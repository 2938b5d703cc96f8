"""Keep labelsieve's copy of a project's task list in step with Label Studio without exporting it.

Before each retrain the loop asks for the tasks it must rank. New and deleted tasks normally arrive as
``TASKS_CREATED`` / ``TASKS_DELETED`` webhooks (Label Studio's auto-created webhook sends every action);
this is the check behind them:

1. first contact (labelsieve knows no task of the project): the full export, once;
2. ``GET /api/projects/{id}/?include=task_number`` (one count, not all eight of Label Studio's project counters)
   equals the tasks labelsieve knows: nothing to do;
3. more new tasks than known ones (e.g. the project was connected after a few annotations reached labelsieve
   by webhook): the full export, once. Label Studio's task listing costs more per task than its export (it
   serialises each task for the Data Manager and counts the filtered set on every page: 20k tasks listed in
   327 s, exported in 246 s, 2 shared cores, load 23);
4. otherwise the tasks with an id above the highest known one, paged (``GET /api/tasks`` filtered on
   ``tasks:id > max``; Label Studio's ids only grow): O(new tasks);
5. only when the counts still differ (tasks deleted without a webhook reaching labelsieve) the full
   export, whose task ids replace labelsieve's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.client import LabelStudioClient, LabelStudioError
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    project_id: int
    how: str  # first-export | unchanged | new-tasks | bulk-export | reconcile-export | first-contact
    new: int = 0
    deleted: int = 0
    seconds: float = 0.0


class TaskSync:
    """Called by the gateway before a retrain (``sync(client, project_id)``): the tasks to upsert before ranking."""

    def __init__(self, *, engine: Engine, held: Callable[[int], bool] | None = None) -> None:
        self.engine = engine
        #: True for a project whose task list another sync owns now (its first contact): nothing is asked then
        self.held = held
        self.last: SyncResult | None = None

    def __call__(self, client: LabelStudioClient, project_id: int) -> list[dict[str, Any]]:
        started = time.perf_counter()
        if self.held is not None and self.held(project_id):
            self.last = SyncResult(project_id, "first-contact")
            log.info("project %s: task sync left to the first contact, which is still syncing", project_id)
            return []
        tasks, result = self._sync(client, project_id)
        result.seconds = time.perf_counter() - started
        self.last = result
        log.info("project %s: task sync %s (%d new, %d deleted) in %.2f s", project_id, result.how, result.new,
                 result.deleted, result.seconds)
        return tasks

    def _sync(self, client: LabelStudioClient, project_id: int) -> tuple[list[dict[str, Any]], SyncResult]:
        with session_scope(self.engine) as session:
            known = crud.count_tasks(session=session, project_id=project_id)
            highest = crud.max_task_id(session=session, project_id=project_id)
        if known == 0:
            tasks = client.export_tasks(project_id)
            return tasks, SyncResult(project_id, "first-export", new=len(tasks))
        try:
            total = client.task_number(project_id)
        except LabelStudioError:  # cannot tell: reconcile
            total = -1
        if total == known:
            return [], SyncResult(project_id, "unchanged")
        if total > known and total - known > known:  # most of the project is new to us: export it, once
            tasks = client.export_tasks(project_id)
            return tasks, SyncResult(project_id, "bulk-export", new=len(tasks) - known)
        new = client.list_tasks(project_id, after_id=highest) if total > known else []
        if known + len(new) == total:
            return new, SyncResult(project_id, "new-tasks", new=len(new))
        tasks = client.export_tasks(project_id)
        present = {int(t["id"]) for t in tasks}
        with session_scope(self.engine) as session:
            ours = crud.task_ids(session=session, project_id=project_id)
            deleted = crud.delete_tasks(session=session, project_id=project_id, task_ids=sorted(ours - present))
        return tasks, SyncResult(project_id, "reconcile-export", new=max(0, len(present) - known + deleted),
                                 deleted=deleted)
