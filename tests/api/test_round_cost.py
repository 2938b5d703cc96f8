"""A retrain's own cost: the ranking is one file (no row per pool task), inputs are decoded once.

Runs the service's ActiveLearningLoop on SQLite and on the real PostgreSQL server (``database_url``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from labelsieve.inputs import InputLoader
from labelsieve.labelconfig import parse_label_config
from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.labelstudio.protocol import LSTask
from labelsieve.metrics import Metrics
from labelsieve.registry import get_registries
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.predict import predict_tasks
from labelsieve.service.ranking import rank_scores
from labelsieve.storage import crud, rankings
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.models import Prediction, SQLModel

P = 7
CLASSES = ("a", "b", "c")
CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
          + "".join(f'<Choice value="{c}"/>' for c in CLASSES) + "</Choices></View>")
EXTRA = {"learner": "vector", "strategy": "margin", "retrain_every": 1, "min_annotations": 2, "batch_size": 5,
         "preannotate_threshold": 0}  # gate off: the test reads the predicted labels


def make_loop(settings: Any) -> ActiveLearningLoop:
    engine = make_engine(settings.db_url)
    return ActiveLearningLoop(engine=engine, settings=settings, registries=get_registries(),
                              artifacts=ArtifactStore(settings.models_path), metrics=Metrics(),
                              gateway=LabelStudioGateway(engine=engine, settings=settings))


def vectors(n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    labels = [CLASSES[i % 3] for i in range(n)]
    centres = {c: rng.normal(size=6) * 3 for c in CLASSES}
    return np.stack([centres[c] + rng.normal(size=6) for c in labels]).round(4), labels


def fill(loop: ActiveLearningLoop, n_pool: int, n_labeled: int = 12) -> tuple[np.ndarray, list[str]]:
    X, labels = vectors(n_pool + n_labeled)
    loop.setup_project(project_id=P, label_config=CONFIG, extra_params=EXTRA)
    with session_scope(loop.engine) as session:
        crud.upsert_tasks(session=session, project_id=P,
                          tasks=[{"id": 100 + i, "data": {"image": X[i].tolist()}} for i in range(len(X))])
    annotate(loop, [100 + i for i in range(n_labeled)], labels)
    return X, labels


def annotate(loop: ActiveLearningLoop, task_ids: list[int], labels: list[str]) -> None:
    config = parse_label_config(CONFIG)
    with session_scope(loop.engine) as session:
        for task_id in task_ids:
            choice = labels[task_id - 100]
            crud.upsert_annotation(session=session, project_id=P, config=config, annotation={
                "id": 10_000 + task_id, "task": task_id,
                "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                            "value": {"choices": [choice]}}]})


def count_rows(loop: ActiveLearningLoop) -> dict[str, int]:
    with session_scope(loop.engine) as session:
        return {name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in SQLModel.metadata.tables.items()}


def test_rows_written_per_round_do_not_grow_with_the_pool(settings_factory, tmp_path) -> None:
    written = {}
    for n_pool in (150, 1500):
        loop = make_loop(settings_factory(data_dir=tmp_path / f"data-{n_pool}",
                                          database_url=f"sqlite:///{tmp_path / f'{n_pool}.sqlite3'}"))
        fill(loop, n_pool)
        before = count_rows(loop)
        assert loop.retrain(P).status == "trained"
        after = count_rows(loop)
        written[n_pool] = {name: after[name] - before[name] for name in after if after[name] != before[name]}
        assert after["prediction"] == 0
        with session_scope(loop.engine) as session:
            project = crud.get_project(session=session, project_id=P)
            ranking = rankings.ranking_of(session=session, project_id=P, version=project.model_version)
        assert ranking is not None and len(ranking) == n_pool  # the whole pool is ranked, in the file
        loop.engine.dispose()
    assert written[150] == written[1500] == {"modelversion": 1, "queryround": 1}


def test_rows_per_round_on_the_configured_database(settings_factory) -> None:
    loop = make_loop(settings_factory())
    fill(loop, 300)
    for _ in range(2):
        before = count_rows(loop)
        assert loop.retrain(P, force=True).status == "trained"
        after = count_rows(loop)
        assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"modelversion": 1,
                                                                                     "queryround": 1}
    loop.engine.dispose()


def _predict(loop: ActiveLearningLoop, X: np.ndarray, task_ids: list[int]):
    tasks = [LSTask(id=t, data={"image": X[t - 100].tolist()}) for t in task_ids]
    predictions, version = predict_tasks(loop, project_id=P, label_config=None, tasks=tasks)
    return [p.model_dump(mode="json") for p in predictions], version


def test_predict_answers_from_the_ranking_file_and_a_restart_reads_it_back(settings_factory) -> None:
    settings = settings_factory()
    loop = make_loop(settings)
    X, _ = fill(loop, 60)
    assert loop.retrain(P).status == "trained"
    pool_ids = list(range(112, 172))
    answered, version = _predict(loop, X, pool_ids)
    with session_scope(loop.engine) as session:
        ranking = rankings.ranking_of(session=session, project_id=P, version=version)
        assert session.execute(select(func.count()).select_from(Prediction)).scalar_one() == 0
    assert ranking is not None
    _, learner = loop.serving_model(loop.project(P))
    probas = learner.predict_proba([X[t - 100] for t in pool_ids])
    ranks = ranking.ranks_of(pool_ids)
    assert sorted(ranks.tolist()) == list(range(60))
    scores = rank_scores(60)
    for k, answer in enumerate(answered):  # what the Prediction rows held: rank-encoded score, top class
        assert answer["score"] == pytest.approx(scores[ranks[k]])
        region = answer["result"][0]
        assert region["value"]["choices"] == [learner.classes_[int(np.argmax(probas[k]))]]
        assert region["score"] == pytest.approx(float(probas[k].max()))
    loop.engine.dispose()

    rankings._read.cache_clear()  # a new process: nothing cached
    restarted = make_loop(settings)
    again, version_after = _predict(restarted, X, pool_ids)
    assert version_after == version and again == answered
    with session_scope(restarted.engine) as session:
        head = rankings.head(session=session, project_id=P, version=version, k=3)
    assert [t.rank for t in head] == [0, 1, 2]
    restarted.engine.dispose()


def test_head_skips_tasks_labelled_since_the_ranking(settings_factory) -> None:
    loop = make_loop(settings_factory())
    _, labels = fill(loop, 40)
    assert loop.retrain(P).status == "trained"
    version = loop.project(P).model_version
    with session_scope(loop.engine) as session:
        ranking = rankings.ranking_of(session=session, project_id=P, version=version)
    assert ranking is not None
    annotate(loop, [int(ranking.task_ids[0]), int(ranking.task_ids[2])], labels)
    with session_scope(loop.engine) as session:
        head = rankings.head(session=session, project_id=P, version=version, k=3)
        rest = rankings.head(session=session, project_id=P, version=version, k=100)
    assert [t.rank for t in head] == [1, 3, 4]
    assert [t.task_id for t in head] == [int(ranking.task_ids[r]) for r in (1, 3, 4)]
    assert len(rest) == 38 and all(t.model_version == version for t in rest)
    loop.engine.dispose()


def test_the_input_cache_serves_later_rounds_without_decoding_again(settings_factory, monkeypatch) -> None:
    decoded: list[Any] = []
    original = InputLoader._one

    def counting(self: InputLoader, data: dict[str, Any]) -> Any:
        decoded.append(data)
        return original(self, data)

    monkeypatch.setattr(InputLoader, "_one", counting)
    loop = make_loop(settings_factory())
    X, labels = fill(loop, 80)
    assert loop.retrain(P).status == "trained"
    assert len(decoded) == 92  # first round: every pool and labelled task once
    decoded.clear()

    annotate(loop, [150, 151, 152], labels)
    assert loop.retrain(P, force=True).status == "trained"
    assert decoded == []  # second round: all from the cache, the newly labelled tasks too

    changed = (X[60] + 1).round(4).tolist()
    with session_scope(loop.engine) as session:
        crud.upsert_tasks(session=session, project_id=P, tasks=[{"id": 160, "data": {"image": changed}}])
    assert loop.retrain(P, force=True).status == "trained"
    assert decoded == [{"image": changed}]  # only the task whose data changed
    loop.engine.dispose()
