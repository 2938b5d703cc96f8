"""The head of the queue: which ranked tasks carry a current-version prediction in Label Studio.

Label Studio's Uncertainty sampling only looks at tasks with a prediction of the project's
``model_version``; pushing the first ``queue_depth`` unlabeled tasks of the ranking is enough for it to
serve labelsieve's order, and costs Label Studio O(head) instead of O(project). :class:`QueueState`
records, per project, the version, how far down the ranking the head reaches (``upto``) and the task
ids pushed, in a small JSON file, so a refill after a restart continues where the last push stopped.

The full ranking is read through :func:`read_ranking` only (task ids in rank order, the Label Studio
``score`` of each, the predicted labels), so the ranking's storage can change behind it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope

#: ``queue_depth: "all"``: every ranked task gets a prediction (the behaviour before heads existed)
ALL = "all"


@dataclass
class Ranking:
    """A version's full ranking: ``task_ids[r]`` is rank ``r`` (0 = label first)."""

    task_ids: list[int]
    scores: list[float]
    labels: list[list[str]]
    confidence: list[float] = field(default_factory=list)  # of the top class (the pre-annotation gate reads it)
    #: region task types: per rank, the predicted Label Studio regions (None for classification)
    regions: list[list[dict]] | None = None

    def __len__(self) -> int:
        return len(self.task_ids)


def read_ranking(engine: Engine, project_id: int, version: str) -> Ranking:
    """The stored full ranking of ``version`` (ascending score = rank order)."""
    with session_scope(engine) as session:
        stored = rankings.ranking_of(session=session, project_id=project_id, version=version)
    if stored is None:
        return Ranking(task_ids=[], scores=[], labels=[])
    return Ranking(task_ids=stored.task_ids.tolist(), scores=stored.scores.tolist(),
                   labels=[stored.labels_at(r) for r in range(len(stored))], confidence=stored.confidence.tolist(),
                   regions=stored.regions)


@dataclass
class QueueState:
    version: str
    depth: int | None  # None: all
    upto: int = 0  # ranks [0, upto) were pushed or skipped as already labelled
    pushed: list[int] = field(default_factory=list)  # task ids with a prediction of ``version`` in Label Studio

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".queue-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle)
        os.replace(tmp, path)

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
            done = crud.annotated_task_ids(session=session, project_id=project_id,
                                           task_ids=ranking.task_ids[pos:stop])
        for rank in range(pos, stop):
            if n is not None and len(ranks) >= n:
                return ranks, rank
            if ranking.task_ids[rank] not in done:
                ranks.append(rank)
        pos = stop
    return ranks, pos


def remaining(engine: Engine, project_id: int, state: QueueState) -> int:
    """Pushed tasks of the head nobody has annotated yet."""
    with session_scope(engine) as session:
        done = crud.annotated_task_ids(session=session, project_id=project_id, task_ids=state.pushed)
    return len(state.pushed) - len(done)
