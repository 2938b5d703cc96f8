"""The head of the queue without a Label Studio: which ranks a push or refill takes, its saved state, the path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelsieve.labelstudio.head import QueueState, remaining, take_unlabeled
from labelsieve.labelstudio.pusher import PredictionPusher
from labelsieve.storage import crud
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.rankings import Ranking


def _engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with session_scope(engine) as session:
        tasks = [{"id": i, "data": {"text": str(i)}} for i in range(1, 11)]
        crud.upsert_tasks(session=session, project_id=1, tasks=tasks)
        for ann_id, task_id, cancelled in ((100, 3, False), (101, 4, True)):  # a label and a skip
            crud.upsert_annotation(session=session, project_id=1, config=None, annotation={
                "id": ann_id, "task": task_id, "result": [], "was_cancelled": cancelled})
    return engine


def test_take_unlabeled_skips_annotated_tasks_and_says_where_it_stopped(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    ranking = Ranking(version="labelsieve-v1-x", classes=["a"], task_ids=np.array([5, 3, 4, 1, 2, 6]),
                      scores=np.array([0.1 * (r + 1) for r in range(6)]), label_index=np.zeros(6),
                      confidence=np.ones(6), utility=np.full(6, np.nan))
    ranks, upto = take_unlabeled(engine, 1, ranking, 0, 2)
    assert [ranking.task_ids[r] for r in ranks] == [5, 1] and upto == 4
    more, end = take_unlabeled(engine, 1, ranking, upto, 10)
    assert [ranking.task_ids[r] for r in more] == [2, 6] and end == 6
    everything, _ = take_unlabeled(engine, 1, ranking, 0, None)
    assert [ranking.task_ids[r] for r in everything] == [5, 1, 2, 6]
    state = QueueState(version="labelsieve-v1-x", depth=4, upto=upto, pushed=[5, 3, 1])
    assert remaining(engine, 1, state) == 2
    state.save(tmp_path / "q" / "project-1.json")
    assert QueueState.load(tmp_path / "q" / "project-1.json") == state
    assert QueueState.load(tmp_path / "missing.json") is None
    engine.dispose()


class _Probe:
    base_url = "http://ls.example"

    def __init__(self, kind: str) -> None:
        self.kind, self.probes = kind, 0

    def probe_bulk_import(self, project_id: int) -> str:
        self.probes += 1
        return self.kind


def test_auto_path_follows_the_server_and_the_project_size() -> None:
    legacy, flagged = _Probe("legacy"), _Probe("memory_efficient")
    auto = PredictionPusher()
    assert auto.path_for(legacy, 1, 100, 1000) == "bulk-legacy"  # recounting 1 000 tasks beats 100 requests
    assert auto.path_for(legacy, 1, 100, 20_000) == "bulk-legacy"  # 5 s against 33 s measured
    assert auto.path_for(legacy, 1, 100, 200_000) == "single"
    assert legacy.probes == 1, "the server's import is probed once"
    assert PredictionPusher().path_for(flagged, 1, 100, 100_000) == "bulk-memory-efficient"
    assert PredictionPusher(mode="bulk").path_for(_Probe("legacy"), 1, 100, 100_000) == "bulk-legacy"
    assert PredictionPusher(mode="single").path_for(flagged, 1, 100, 10) == "single"
