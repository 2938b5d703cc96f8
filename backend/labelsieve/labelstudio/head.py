"""The head of the queue: which ranked tasks carry a current-version prediction in Label Studio.

Label Studio's Uncertainty sampling only looks at tasks with a prediction of the project's
``model_version``; pushing the first ``queue_depth`` unlabeled tasks of the ranking is enough for it to
serve labelsieve's order, and costs Label Studio O(head) instead of O(project). :class:`QueueState`
records, per project, the version, how far down the ranking the head reaches (``upto``) and the task
ids pushed, in a small JSON file, so a refill after a restart continues where the last push stopped.

The full ranking is read through :func:`read_ranking` only: the stored
:class:`~labelsieve.storage.rankings.Ranking` itself (arrays in rank order: task ids, the Label Studio ``score`` of
each, the predicted labels through ``labels_at``), never copied into lists.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.json_files import write_json_atomic
from labelsieve.storage.rankings import Ranking

#: ``queue_depth: "all"``: every ranked task gets a prediction (the behaviour before heads existed)
ALL = "all"


def read_ranking(engine: Engine, project_id: int, version: str) -> Ranking:
    """The stored full ranking of ``version`` (ascending score = rank order)."""
    with session_scope(engine) as session:
        stored = rankings.ranking_of(session=session, project_id=project_id, version=version)
    return rankings.empty_ranking(version) if stored is None else stored


@dataclass
class QueueState:
    version: str
    depth: int | None  # None: all
    upto: int = 0  # ranks [0, upto) were pushed or skipped as already labelled
    pushed: list[int] = field(default_factory=list)  # task ids with a prediction of ``version`` in Label Studio

    def save(self, path: Path) -> None:
        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> QueueState | None:
        try:
            raw = json.loads(path.read_text())
            return cls(version=str(raw["version"]), depth=raw.get("depth"), upto=int(raw.get("upto", 0)),
                       pushed=[int(t) for t in raw.get("pushed", [])])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def take_unlabeled(engine: Engine, project_id: int, ranking: Ranking, start: int, n: int | None,
                   *, window: int = 2000) -> tuple[list[int], int]:
    """Ranks of the next ``n`` (None: all) tasks from ``start`` that have no annotation; and where that stops.

    Reads the annotations of one window of the ranking at a time, so a refill costs O(what it takes)."""
    ranks: list[int] = []
    pos = start
    while pos < len(ranking) and (n is None or len(ranks) < n):
        stop = min(len(ranking), pos + (window if n is None else max(window, 2 * (n - len(ranks)))))
        with session_scope(engine) as session:
            window_ids = ranking.task_ids[pos:stop].tolist()
            done = crud.annotated_task_ids(session=session, project_id=project_id, task_ids=window_ids)
        for rank, task_id in enumerate(window_ids, start=pos):
            if n is not None and len(ranks) >= n:
                return ranks, rank
            if task_id not in done:
                ranks.append(rank)
        pos = stop
    return ranks, pos


def remaining(engine: Engine, project_id: int, state: QueueState) -> int:
    """Pushed tasks of the head nobody has annotated yet."""
    with session_scope(engine) as session:
        done = crud.annotated_task_ids(session=session, project_id=project_id, task_ids=state.pushed)
    return len(state.pushed) - len(done)
