"""Storage on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from labelsieve.labelconfig import parse_label_config
from labelsieve.storage import crud
from labelsieve.storage.db import make_engine, session_scope
from tests.factories import TEXT_CONFIG

CONFIG = parse_label_config(TEXT_CONFIG)


def _ann(ann_id: int, task: int, label: str | None, **extra: object) -> dict:
    result = [] if label is None else [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                        "value": {"choices": [label]}}]
    return {"id": ann_id, "task": task, "result": result, "lead_time": 2.5, "completed_by": 7, **extra}


def test_labeled_examples_pool_and_annotation_fields(database_url: str) -> None:
    engine = make_engine(database_url)
    with session_scope(engine) as s:
        crud.upsert_project(session=s, project_id=1, label_config=TEXT_CONFIG)
        crud.upsert_tasks(session=s, project_id=1, tasks=[{"id": i, "data": {"text": f"t{i}"}} for i in range(1, 7)])
        crud.upsert_annotation(session=s, project_id=1, annotation=_ann(10, 1, "Positive"), config=CONFIG)
        crud.upsert_annotation(session=s, project_id=1, annotation=_ann(11, 2, "Negative"), config=CONFIG)
        crud.upsert_annotation(session=s, project_id=1, annotation=_ann(12, 2, "Positive", ground_truth=True),
                               config=CONFIG)
        crud.upsert_annotation(session=s, project_id=1, annotation=_ann(13, 3, None, was_cancelled=True),
                               config=CONFIG)
        crud.upsert_annotation(session=s, project_id=1, annotation={**_ann(14, 4, "Negative"),
                                                                   "task": {"id": 4}}, config=CONFIG)
    with session_scope(engine) as s:
        examples = crud.labeled_examples(session=s, project_id=1)
        assert [(t.id, a.labels) for t, a in examples] == [(1, ["Positive"]), (2, ["Positive"]), (4, ["Negative"])]
        assert examples[0][1].lead_time == 2.5 and examples[0][1].annotator == 7
        assert [t.data for t, _ in examples] == [{"text": "t1"}, {"text": "t2"}, {"text": "t4"}]
        # the status's read: the same annotations, without the tasks' data
        assert [a.id for a in crud.labeled_annotations(session=s, project_id=1)] == [10, 12, 14]
        assert [t.id for t in crud.pool_tasks(session=s, project_id=1)] == [3, 5, 6]
        assert crud.delete_annotations(session=s, annotation_ids=[14, 999]) == 1
    with session_scope(engine) as s:
        assert [t.id for t in crud.pool_tasks(session=s, project_id=1)] == [3, 4, 5, 6]
        assert crud.count_annotations(session=s, project_id=1) == 4
    engine.dispose()


def test_predictions_are_stored_in_bulk_and_pruned_by_version(database_url: str) -> None:
    engine = make_engine(database_url)
    rows = [{"project_id": 1, "task_id": i, "model_version": v, "labels": ["Positive"], "confidence": 0.9,
             "score": (i + 1) / 1001, "rank": i, "utility": 0.1} for v in ("v1", "v2") for i in range(1000)]
    with session_scope(engine) as s:
        crud.save_predictions(session=s, rows=rows)
    with session_scope(engine) as s:
        ranked = crud.ranked_predictions(session=s, project_id=1, model_version="v2")
        assert [p.task_id for p in ranked[:3]] == [0, 1, 2]
        assert crud.prune_predictions(session=s, project_id=1, keep_versions=["v2"]) == 1000
    with session_scope(engine) as s:
        assert crud.get_predictions(session=s, model_version="v1", task_ids=list(range(1000))) == {}
        assert len(crud.get_predictions(session=s, model_version="v2", task_ids=list(range(1000)))) == 1000
    engine.dispose()


def test_concurrent_setup_of_a_new_project_never_fails(database_url: str) -> None:
    """Label Studio retries a slow /setup, so two may create the same new project at once."""
    import threading

    engine = make_engine(database_url)
    errors: list[BaseException] = []

    def setup(project_id: int, title: str, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(timeout=30)
            with session_scope(engine) as s:
                crud.upsert_project(session=s, project_id=project_id, label_config=TEXT_CONFIG, title=title)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for project_id in range(100, 112):
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=setup, args=(project_id, f"t{n}", barrier)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    with session_scope(engine) as s:
        projects = {p.id: p for p in crud.list_projects(session=s)}
        assert sorted(projects) == list(range(100, 112))
        assert all(p.label_config == TEXT_CONFIG and p.title in {"t0", "t1", "t2"} for p in projects.values())
    engine.dispose()


def test_observer_rows_write_changed_tasks_and_keep_the_others(database_url: str) -> None:
    engine = make_engine(database_url)
    seen = {"yolo-v8": {"id": 5, "n": 1, "score": 0.9, "result": [{"value": {"x": 1.5}}]}}
    try:
        with session_scope(engine) as s:
            assert crud.get_observed_project(session=s, project_id=3) is None
            written = crud.save_observed_tasks(session=s, project_id=3,
                                               changed=dict.fromkeys(range(1, 6), (False, seen)))
            crud.save_observed_project(session=s, project_id=3, max_id=5, watermark="2026-01-01T00:00:00Z",
                                       status={"mode": "observer"})
        assert written == 5
        with session_scope(engine) as s:
            assert crud.save_observed_tasks(session=s, project_id=3, changed={2: (True, {})}, removed=[4]) == 2
            crud.save_observed_project(session=s, project_id=3, round=1)
        with session_scope(engine) as s:
            stored = crud.observed_tasks(session=s, project_id=3)
            row = crud.get_observed_project(session=s, project_id=3)
            assert sorted(stored) == [1, 2, 3, 5] and stored[2] == (True, {}) and stored[1] == (False, seen)
            assert (row.max_id, row.round, row.status) == (5, 1, {"mode": "observer"})
    finally:
        engine.dispose()
