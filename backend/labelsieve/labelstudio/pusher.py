"""Getting predictions into Label Studio by the path whose cost grows with what is pushed.

Label Studio 1.23.2 has three ways in (``benchmarks/ls_push_paths.py`` measures them):

* ``POST /api/projects/{id}/import/predictions``, default (legacy) path: one bulk insert, then it recounts
  the annotations and predictions of EVERY task of the project (``data_import/api.py`` 584 and 650), so
  50 predictions cost about as much as 20 000;
* the same endpoint with the feature flag
  ``fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short`` on: inserts in batches of 500
  and recounts only the imported tasks — O(pushed);
* ``POST /api/predictions/``: one prediction per request, Label Studio recounts that one task — O(pushed),
  one HTTP round trip each, sent ``concurrency`` at a time over the shared connection pool.

``mode="auto"`` probes the server once (:meth:`LabelStudioClient.probe_bulk_import`) and uses the bulk
import when the flag is on. Without it, it compares what each path makes Label Studio do: one request per
prediction costs about as much as recounting ``SINGLE_COST_TASKS`` tasks in the legacy bulk import (measured
with ``benchmarks/ls_push_paths.py`` on 2 cores under load 15-22: 100 single requests 33-41 s; one legacy
import of 100 predictions 1.1 s at 1 000 tasks, 5.4 s at 20 000, i.e. ~0.23 ms per task of the project), so
single requests are used only when ``pushed × SINGLE_COST_TASKS`` is below the project's task count
(a head of 100 in a project of over 150 000 tasks), the legacy bulk import otherwise. The single requests
go ``concurrency`` at a time (2: with 4, annotators' own writes waited on Label Studio's SQLite lock, which
answers HTTP 500 "database is locked" after 5 s).

When the legacy bulk import is the path and the project is big enough that recounting it costs more than
:data:`LEAD` single requests, :meth:`PredictionPusher.lead` says how many predictions go first, one request each,
so that the publisher can switch the project to the new version before the bulk import of the rest: Label Studio
then serves the new rank 0 seconds after the round instead of after the recount (17 s at 100 000 tasks on SQLite,
load 15).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from labelsieve.labelstudio.client import LabelStudioClient

MODES = ("auto", "bulk", "single")
#: Label Studio work of one ``POST /api/predictions/``, in tasks recounted by a legacy bulk import
SINGLE_COST_TASKS = 1500
#: predictions pushed one request each before a legacy bulk import of the rest (see :meth:`PredictionPusher.lead`)
LEAD = 10


@dataclass
class PushStats:
    pushed: int = 0
    requests: int = 0
    path: str = ""  # bulk-legacy | bulk-memory-efficient | single
    seconds: float = 0.0


class PredictionPusher:
    def __init__(self, *, mode: str = "auto", concurrency: int = 2, batch_size: int = 25000) -> None:
        if mode not in MODES:
            raise ValueError(f"prediction import mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.concurrency = concurrency
        self.batch_size = batch_size
        self._import_kind: dict[str, str] = {}
        self._lock = threading.Lock()

    def import_kind(self, client: LabelStudioClient, project_id: int) -> str:
        """``memory_efficient`` or ``legacy``: what the server's bulk import does (probed once per server)."""
        with self._lock:
            known = self._import_kind.get(client.base_url)
        if known is None:
            known = client.probe_bulk_import(project_id)
            with self._lock:
                self._import_kind[client.base_url] = known
        return known

    def path_for(self, client: LabelStudioClient, project_id: int, n: int, project_tasks: int) -> str:
        if self.mode == "single":
            return "single"
        kind = self.import_kind(client, project_id)
        if self.mode == "bulk" or kind == "memory_efficient" or n * SINGLE_COST_TASKS >= project_tasks:
            return f"bulk-{kind.replace('_', '-')}"
        return "single"

    def lead(self, client: LabelStudioClient, project_id: int, n: int, project_tasks: int) -> int:
        """How many of ``n`` predictions to push first, one request each, before the rest goes in by the legacy
        bulk import (0: all of them by one path): :data:`LEAD` when the bulk import would be legacy and recounting
        ``project_tasks`` tasks costs more than :data:`LEAD` single requests (``mode="auto"`` only)."""
        if self.mode != "auto" or n <= LEAD or LEAD * SINGLE_COST_TASKS >= project_tasks:
            return 0
        return LEAD if self.path_for(client, project_id, n, project_tasks) == "bulk-legacy" else 0

    def push(self, client: LabelStudioClient, project_id: int, payload: list[dict[str, Any]], *,
             project_tasks: int = 0, single: bool = False) -> PushStats:
        """Push ``payload`` into a project of ``project_tasks`` tasks (what the legacy bulk import recounts);
        ``single``: one request each, whatever the size."""
        started = time.perf_counter()
        stats = PushStats()
        if not payload:
            return stats
        stats.path = "single" if single else self.path_for(client, project_id, len(payload), project_tasks)
        if stats.path == "single":
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="ls-push") as pool:
                ids = list(pool.map(client.create_prediction, payload))
            stats.pushed, stats.requests = len(ids), len(ids)
        else:
            for start in range(0, len(payload), self.batch_size):
                stats.pushed += client.import_predictions(project_id, payload[start:start + self.batch_size])
                stats.requests += 1
        stats.seconds = time.perf_counter() - started
        return stats
