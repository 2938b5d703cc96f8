"""A version's ranking file round-trips exactly; versions from before ranking files read their rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelsieve.storage import crud, rankings
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.models import ModelVersion


def sample(version: str = "v1", n: int = 50) -> rankings.Ranking:
    rng = np.random.default_rng(0)
    probas = rng.dirichlet(np.ones(3), size=n)
    utility = rng.normal(size=n)
    utility[3] = np.nan
    return rankings.build_ranking(version=version, classes=["x", "y", "z"], pool_ids=np.arange(1000, 1000 + n),
                                  order=rng.permutation(n), scores=np.linspace(0.01, 0.99, n), probas=probas,
                                  utility=utility)


def test_the_file_round_trips_and_lookup_finds_each_task(tmp_path: Path) -> None:
    ranking = sample()
    path = rankings.save_ranking(tmp_path, ranking)
    assert path.stat().st_size < 50 * 40 + 1000  # a few dozen bytes per task
    back = rankings.load_ranking(tmp_path)
    assert back is not None and back.version == "v1" and back.classes == ("x", "y", "z")
    for name in ("task_ids", "scores", "label_index", "confidence"):
        np.testing.assert_array_equal(getattr(back, name), getattr(ranking, name))
    np.testing.assert_array_equal(np.isnan(back.utility), np.isnan(ranking.utility))
    found = back.lookup([int(ranking.task_ids[7]), 5, int(ranking.task_ids[0])])
    assert set(found) == {int(ranking.task_ids[7]), int(ranking.task_ids[0])}
    assert found[int(ranking.task_ids[7])].rank == 7 and found[int(ranking.task_ids[0])].rank == 0
    assert rankings.load_ranking(tmp_path / "missing") is None


def test_a_version_from_before_ranking_files_is_read_from_its_prediction_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with session_scope(engine) as session:
        crud.add_model_version(session=session, row=ModelVersion(
            project_id=1, version="old", number=1, learner="vector", artifact=str(tmp_path / "no-such-dir")))
        crud.save_predictions(session=session, rows=[
            {"project_id": 1, "task_id": t, "model_version": "old", "labels": ["b" if t % 2 else "a"],
             "confidence": 0.5 + t / 100, "score": (r + 1) / 4, "rank": r, "utility": None}
            for r, t in enumerate([12, 10, 11])])
    with session_scope(engine) as session:
        ordered = rankings.ranked_tasks(session=session, project_id=1, version="old")
        assert [t.task_id for t in ordered] == [12, 10, 11]
        assert ordered[2].labels == ["b"] and ordered[2].confidence == 0.61 and ordered[2].utility is None
        assert rankings.lookup(session=session, project_id=1, version="old", task_ids=[11])[11].score == 0.75
        assert rankings.ranked_tasks(session=session, project_id=1, version="never") == []
    engine.dispose()
