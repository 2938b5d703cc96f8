"""Observer mode without Label Studio: the ``observe`` setting, the incremental read and the round's decisions.

A fake Label Studio client holds tasks with predictions and answers the listing the way Label Studio 1.23.2 does
(``updated_at`` bumped by single saves, not by bulk imports); the Label Studio end-to-end test is
tests/e2e/test_live_observer.py.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from labelsieve.labelstudio.observed import OVERLAP_SECONDS, ObservedReader, ObservedState
from labelsieve.labelstudio.pusher import PredictionPusher
from labelsieve.registry import get_registries
from labelsieve.service.observer import NO_SCORES, ObserverRounds
from labelsieve.service.project_settings import ProjectSettingsError, resolve_settings
from labelsieve.settings import Settings
from labelsieve.tasktypes import task_type_for

BOXES = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="car"/></RectangleLabels></View>"""
TEXT = """<View><Text name="text" value="$text"/>
<Choices name="c" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""
NER = """<View><Text name="text" value="$text"/><Labels name="ner" toName="text"><Label value="PER"/></Labels></View>"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def region(score: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 100,
                           "original_height": 100, "value": {"x": 10, "y": 10, "width": 20, "height": 20,
                                                             "rotation": 0, "rectanglelabels": ["car"]}}
    if score is not None:
        out["score"] = score
    return out


class FakeLabelStudio:
    """Tasks and predictions as Label Studio stores them; a clock that moves one second per write."""

    base_url = "http://fake-ls"

    def __init__(self) -> None:
        self.request_log: deque[tuple[str, str]] = deque(maxlen=5000)
        self.tasks: dict[int, dict[str, Any]] = {}
        self.next_prediction = 1
        self.clock = T0
        self.pushed: list[dict[str, Any]] = []
        self.project: dict[str, Any] = {}
        self.listed: list[int] = []

    def tick(self) -> str:
        self.clock += timedelta(seconds=1)
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def add_task(self, task_id: int, scores: list[float | None] | None, version: str = "yolo-v8") -> None:
        self.tasks[task_id] = {"id": task_id, "is_labeled": False, "predictions": [], "updated_at": self.tick()}
        if scores is not None:
            self.predict(task_id, scores, version, bump=False)

    def predict(self, task_id: int, scores: list[float | None], version: str = "yolo-v8", *, bump: bool = True,
                result: list[dict[str, Any]] | None = None, score: float | None = 0.5) -> None:
        task = self.tasks[task_id]
        task["predictions"].append({"id": self.next_prediction, "model_version": version, "score": score,
                                    "result": [region(s) for s in scores] if result is None else result})
        self.next_prediction += 1
        if bump:  # a single save bumps the task; a bulk import does not
            task["updated_at"] = self.tick()

    # -- the client's surface the reader and the round use
    def model_versions(self, project_id: int) -> dict[str, int]:
        self.request_log.append(("GET", "model-versions"))
        counts: dict[str, int] = {}
        for task in self.tasks.values():
            for p in task["predictions"]:
                counts[p["model_version"]] = counts.get(p["model_version"], 0) + 1
        return counts

    def task_pages(self, project_id: int, *, after_id: int = 0, page_size: int = 5000, what: str = "",
                   updated_after: str | None = None, fields: str = "task_only", **_: Any):
        self.request_log.append(("GET", "tasks"))
        since = None if updated_after is None else datetime.strptime(updated_after, "%Y-%m-%dT%H:%M:%S.%fZ")
        rows = [t for tid, t in sorted(self.tasks.items()) if tid > after_id and (
            since is None or datetime.strptime(t["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ") > since)]
        self.listed += [t["id"] for t in rows]
        if rows:
            yield [dict(t) for t in rows]

    def probe_bulk_import(self, project_id: int) -> str:
        return "memory_efficient"

    def import_predictions(self, project_id: int, predictions: list[dict[str, Any]]) -> int:
        self.pushed = list(predictions)
        for p in predictions:
            self.tasks[p["task"]]["predictions"].append({**p, "id": self.next_prediction})
            self.next_prediction += 1
        return len(predictions)

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        self.project.update(fields)
        return {"id": project_id}

    def delete_model_version(self, project_id: int, version: str) -> int:
        deleted = 0
        for task in self.tasks.values():
            kept = [p for p in task["predictions"] if p["model_version"] != version]
            deleted += len(task["predictions"]) - len(kept)
            task["predictions"] = kept
        return deleted


def resolve(extra: dict[str, Any], xml: str = BOXES) -> Any:
    served = task_type_for(xml)
    return resolve_settings(settings=Settings(), extra=extra, config=served.config, registries=get_registries(),
                            task_type=served.task_type).settings


def test_observe_setting_accepts_boxes_and_refuses_what_it_cannot_observe() -> None:
    assert resolve({"observe": "yolo-v8", "observe_poll_seconds": 5}).observe == "yolo-v8"
    assert resolve({"observe": "auto"}).observe_poll_seconds == 60
    with pytest.raises(ProjectSettingsError, match="labelsieve's own"):
        resolve({"observe": "yolo-v8, labelsieve-v3"})
    with pytest.raises(ProjectSettingsError, match="must name a model version"):
        resolve({"observe": " "})
    with pytest.raises(ProjectSettingsError, match="observer mode serves task type"):
        resolve({"observe": "yolo-v8"}, NER)
    with pytest.raises(ProjectSettingsError, match="observe_poll_seconds"):
        resolve({"observe": "yolo-v8", "observe_poll_seconds": -1})


def test_incremental_read_lists_only_changed_tasks_and_reconciles_bulk_imports() -> None:
    ls = FakeLabelStudio()
    for task_id in range(1, 41):
        ls.add_task(task_id, [0.9])
    state, reader = ObservedState(), ObservedReader()
    first = reader.read(ls, 1, state)
    assert (first.how, first.tasks_read) == ("full", 40)

    ls.listed.clear()
    ls.predict(7, [0.5, 0.4])  # a backend's /predict answer: saved one by one, the task is bumped
    ls.add_task(41, [0.6])  # a new task imported with its prediction
    second = reader.read(ls, 1, state)
    # what changed, and the tasks saved in the overlap window before the last read's newest (one write per second)
    window = set(range(41 - int(OVERLAP_SECONDS), 41))
    assert second.how == "incremental" and set(ls.listed) == {7, 41} | window, ls.listed
    assert state.tasks[7]["versions"]["yolo-v8"]["n"] == 2
    assert [r["score"] for r in state.tasks[7]["versions"]["yolo-v8"]["result"]] == [0.5, 0.4]

    ls.clock += timedelta(seconds=60)
    ls.predict(3, [0.2], bump=False)  # POST /import/predictions: bulk_create, no updated_at bump
    third = reader.read(ls, 1, state)
    assert third.how == "reconcile" and state.tasks[3]["versions"]["yolo-v8"]["result"][0]["score"] == 0.2
    ls.listed.clear()
    ls.clock += timedelta(seconds=60)
    assert reader.read(ls, 1, state).how == "incremental" and len(ls.listed) <= OVERLAP_SECONDS  # the window once
    ls.listed.clear()
    assert reader.read(ls, 1, state).tasks_read == 0 and ls.listed == [], "then from the watermark: nothing listed"


@pytest.fixture
def rounds(tmp_path: Path, request: pytest.FixtureRequest):
    from labelsieve.storage import crud
    from labelsieve.storage.db import make_engine, session_scope

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with session_scope(engine) as session:
        crud.upsert_project(session=session, project_id=1, label_config=getattr(request, "param", BOXES), settings={
            "observe": "auto", "queue_depth": 3, "observe_poll_seconds": 0})
    ls = FakeLabelStudio()

    class Gateway:
        def client(self, project_id: int, project: Any = None) -> FakeLabelStudio:
            return ls

    observer = ObserverRounds(engine=engine, settings=Settings(), gateway=Gateway(),
                              pusher=PredictionPusher(mode="bulk"))
    yield observer, ls
    engine.dispose()


def test_round_pushes_the_most_uncertain_head_carrying_the_boxes(rounds) -> None:
    observer, ls = rounds
    for task_id, scores in {1: [0.99], 2: [0.5], 3: [0.9, 0.6], 4: [], 5: [0.95, 0.97]}.items():
        ls.add_task(task_id, scores)
    ls.add_task(6, [0.5], version="other-model")  # auto: the newest version wins, here yolo-v8 (higher ids later)
    ls.predict(5, [0.98])
    summary = observer.round(1)
    assert summary["versions"] == ["yolo-v8"] and "error" not in summary, summary
    # sum of binary entropies: task 3 (0.9, 0.6) 1.44 > 2 (0.5) 1.0 = 4 (no box: 1.0) > 5 > 1; ties by task id
    assert [p["task"] for p in ls.pushed] == [3, 2, 4]
    assert [p["score"] for p in ls.pushed] == sorted(p["score"] for p in ls.pushed)
    assert ls.pushed[0]["result"] == ls.tasks[3]["predictions"][0]["result"], "the other backend's boxes, unchanged"
    assert ls.project == {"model_version": "labelsieve-observer-1", "sampling": "Uncertainty sampling"}
    assert observer.status(1)["tasks_scored"] == 4 and observer.status(1)["tasks_observed"] == 5

    ls.pushed = []
    assert observer.round(1)["unchanged"] is True and ls.pushed == [], "an unchanged head is not pushed again"
    ls.tasks[3]["is_labeled"] = True
    ls.tasks[3]["updated_at"] = ls.tick()
    again = observer.round(1)
    assert [p["task"] for p in ls.pushed] == [2, 4, 5] and again["version"] == "labelsieve-observer-2"
    assert again["stale_predictions_deleted"] == 3 and "labelsieve-observer-1" not in ls.model_versions(1)


def test_a_round_writes_only_the_changed_task_rows_and_a_restart_reads_on_from_them(rounds) -> None:
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    observer, ls = rounds
    for task_id in range(1, 31):
        ls.add_task(task_id, [0.5 + task_id / 100])
    assert observer.round(1)["read"]["rows_written"] == 30  # first contact: every task once
    ls.clock += timedelta(seconds=60)
    assert observer.round(1)["read"]["rows_written"] == 0, "the overlap window listed again, nothing changed"
    ls.predict(7, [0.51])
    ls.clock += timedelta(seconds=60)
    summary = observer.round(1)
    assert summary["read"]["tasks_read"] >= 1 and summary["read"]["rows_written"] == 1, summary["read"]
    with session_scope(observer.engine) as session:
        stored = crud.observed_tasks(session=session, project_id=1)
    assert len(stored) == 30 and stored[7][1]["yolo-v8"]["n"] == 2

    restarted = ObserverRounds(engine=observer.engine, settings=Settings(), gateway=observer.gateway,
                               pusher=PredictionPusher(mode="bulk"))
    assert restarted.status(1) == summary
    ls.clock += timedelta(seconds=60)
    ls.predict(9, [0.52])
    again = restarted.round(1)
    assert again["read"]["how"] == "incremental" and again["read"]["rows_written"] == 1, again["read"]
    assert again["read"]["tasks_known"] == 30 and again["head"] == summary["head"]


def test_round_says_when_the_observed_backend_writes_no_scores(rounds) -> None:
    observer, ls = rounds
    for task_id in (1, 2, 3):
        ls.add_task(task_id, [None, None])
    summary = observer.round(1)
    assert summary["message"] == NO_SCORES and summary["regions"] == 6 and summary["regions_scored"] == 0
    assert ls.pushed == [] and ls.project == {}, "no ranking signal: Label Studio's queue is left alone"


@pytest.mark.parametrize("rounds", [TEXT], indirect=True)
def test_classification_round_ranks_by_least_confidence(rounds) -> None:
    """A <Choices> backend's score (on the region, else on the prediction, as Label Studio's examples write it)."""
    observer, ls = rounds

    def choice(score: float | None) -> list[dict[str, Any]]:
        out: dict[str, Any] = {"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}
        return [out if score is None else {**out, "score": score}]

    for task_id in (1, 2, 3, 4):
        ls.add_task(task_id, None)
    ls.predict(1, [], result=choice(0.9), score=None)
    ls.predict(2, [], result=choice(None), score=0.55)  # the prediction-level score only
    ls.predict(3, [], result=choice(0.7), score=0.99)  # the region's own score wins
    ls.predict(4, [], result=choice(0.95), score=None)
    summary = observer.round(1)
    assert summary["aggregation"] == "least_confidence" and summary["tasks_scored"] == 4, summary
    assert [p["task"] for p in ls.pushed] == [2, 3, 1]
    assert ls.pushed[0]["result"] == ls.tasks[2]["predictions"][0]["result"]
