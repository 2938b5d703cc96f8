"""On a Label Studio whose bulk prediction import recounts the whole project (the legacy path), a big project's
new head goes live after a few single-prediction requests: the project is switched to the new version before the
bulk import of the rest. A recording client stands in for Label Studio; the calls' order is what is checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.labelstudio.publisher import LabelStudioPublisher
from labelsieve.labelstudio.pusher import LEAD, PredictionPusher
from labelsieve.settings import ProjectSettings
from labelsieve.storage import crud
from labelsieve.storage.db import make_engine, session_scope
from labelsieve.storage.rankings import Ranking
from tests.e2e.helpers import TEXT_CONFIG


class RecordingClient:
    base_url = "http://ls.example"

    def __init__(self, import_kind: str) -> None:
        self.import_kind = import_kind
        self.calls: list[tuple[str, Any]] = []

    def probe_bulk_import(self, project_id: int) -> str:
        return self.import_kind

    def create_prediction(self, prediction: dict[str, Any]) -> int:
        self.calls.append(("single", prediction["task"]))
        return int(prediction["task"])

    def import_predictions(self, project_id: int, predictions: list[dict[str, Any]]) -> int:
        self.calls.append(("bulk", [p["task"] for p in predictions]))
        return len(predictions)

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        self.calls.append(("switch", fields["model_version"]))
        return {"title": "p"}

    def model_versions(self, project_id: int) -> dict[str, int]:
        return {}


def publish(tmp_path: Path, client: RecordingClient, *, own_tasks: int, ls_tasks: int | None) -> list[tuple]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with session_scope(engine) as session:
        crud.upsert_project(session=session, project_id=1, label_config=TEXT_CONFIG)
        crud.upsert_tasks(session=session, project_id=1,
                          tasks=[{"id": i, "data": {"text": f"t{i}"}} for i in range(1, own_tasks + 1)])
    n = 50
    ranking = Ranking(version="labelsieve-v1-x", classes=["sports", "weather", "food"],
                      task_ids=np.arange(n, 0, -1), scores=(np.arange(n) + 1) / (n + 1), label_index=np.zeros(n),
                      confidence=np.full(n, 0.5), utility=np.full(n, np.nan))
    publisher = LabelStudioPublisher(engine=engine, client_factory=lambda _pid: client, manage_tab=False,
                                     settings_of=lambda _pid: ProjectSettings(queue_depth=30),
                                     pusher=PredictionPusher(), ranking_of=lambda _pid, _v: ranking,
                                     task_total_of=lambda _pid: ls_tasks)
    try:
        result = publisher.publish(client, 1, "labelsieve-v1-x")
    finally:
        publisher.stop()
        engine.dispose()
    assert result.pushed == 30
    return client.calls


def test_a_big_project_on_the_legacy_import_is_switched_after_the_lead(tmp_path: Path) -> None:
    # labelsieve holds 60 tasks (a first contact's first page) of Label Studio's 30 000: 30 single requests would
    # cost more than the recount, 10 less
    calls = publish(tmp_path, RecordingClient("legacy"), own_tasks=60, ls_tasks=30_000)
    head = list(range(50, 20, -1))  # rank order of the 30 pushed
    assert sorted(calls[:LEAD]) == sorted(("single", t) for t in head[:LEAD]), "the top of the head first"
    assert calls[LEAD] == ("switch", "labelsieve-v1-x"), "live once the lead is in, before the recount"
    assert calls[LEAD + 1:] == [("bulk", head[LEAD:])], "the rest in one bulk import"


def test_a_small_project_or_the_efficient_import_pushes_the_head_before_switching(tmp_path: Path) -> None:
    small = publish(tmp_path / "a", RecordingClient("legacy"), own_tasks=60, ls_tasks=None)
    assert [c[0] for c in small] == ["bulk", "switch"], "a recount of 60 tasks costs less than the lead"
    flagged = publish(tmp_path / "b", RecordingClient("memory_efficient"), own_tasks=60, ls_tasks=100_000)
    assert [c[0] for c in flagged] == ["bulk", "switch"], "the flag's import recounts only what it imports"
