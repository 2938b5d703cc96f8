"""The head of the queue against a real Label Studio 1.23.2: only ``queue_depth`` current predictions, served in
labelsieve's order to one or two annotators, refilled between retrains, new tasks ranked without exports, the
Data Manager stream in the same order; on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from labelsieve.quality.review_payload import REVIEW_PREFIX
from tests.e2e.helpers import (
    TEXT_CONFIG,
    annotate,
    backend_status,
    create_project,
    predictions,
    project,
    setup_and_connect,
    text_dataset,
    wait_version,
)
from tests.harness.labelstudio import LabelStudioServer, start_label_studio
from tests.reliability.server import ServerProcess

DEPTH = 20
EXTRA = {"learner": "text", "strategy": "margin", "min_annotations": 10, "retrain_every": 100000,
         "queue_depth": DEPTH}  # one round, then retraining held back: only refills keep the queue going


def ranking(server: ServerProcess, pid: int, version: str) -> list[int]:
    """labelsieve's full ranking of ``version`` (task ids, rank 0 first), from its own database."""
    from labelsieve.labelstudio.head import read_ranking
    from labelsieve.storage.db import make_engine

    engine = make_engine(server.database_url)
    try:
        return read_ranking(engine, pid, version).task_ids.tolist()
    finally:
        engine.dispose()


def next_id(ls: LabelStudioServer, pid: int, token: str | None = None) -> int:
    response = ls.api_as(token or ls.token, "GET", f"/api/projects/{pid}/next")
    assert response.status_code == 200, response.text[:300]
    return int(response.json()["id"])


def settle(server: ServerProcess, pid: int, labelled: int, timeout: float = 60.0) -> dict:
    """labelsieve applied ``labelled`` annotations and its head holds at least half of ``queue_depth`` again."""
    deadline = time.monotonic() + timeout
    while True:
        status = backend_status(server.url, pid)
        queue = status["queue"] or {}
        if status["annotations"] >= labelled and queue.get("remaining", 0) * 2 >= DEPTH:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"head not refilled after {labelled} annotations: {status['queue']}")
        time.sleep(0.2)


@pytest.fixture
def ls_server(tmp_path: Path, label_studio: LabelStudioServer) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "labelsieve", f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}",
                           LABEL_STUDIO_URL=label_studio.url, LABEL_STUDIO_API_KEY=label_studio.token,
                           LABELSIEVE_DEBOUNCE_SECONDS="0.2", LABELSIEVE_LOG_LEVEL="INFO").start()
    yield server
    server.stop()


def wait_first_contact(server: ServerProcess, pid: int, timeout: float = 300.0) -> None:
    """Until the first contact that /setup started has synced the whole project (its status says ``done``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        contact = httpx.get(f"{server.url}/projects/{pid}", timeout=30).json().get("first_contact") or {}
        if contact.get("state") == "done":
            return
        assert contact.get("state") != "failed", contact
        time.sleep(0.2)  # polling Label Studio's sync through the public status, as a user would
    raise AssertionError(f"first contact of project {pid} did not finish in {timeout:.0f} s")


def first_round(ls: LabelStudioServer, server: ServerProcess, n: int, title: str) -> tuple[int, dict, str, list]:
    pid, truth = create_project(ls, title, text_dataset(n, seed=7))
    setup_and_connect(ls, server.url, pid, TEXT_CONFIG, EXTRA)
    wait_first_contact(server, pid)  # the connect's background sync: its end would re-rank a head already served
    for tid in list(truth)[:10]:
        annotate(ls, tid, truth[tid])
    version = wait_version(ls, pid, other_than=None, timeout=300)
    order = [t for t in ranking(server, pid, version) if t not in set(list(truth)[:10])]
    return pid, truth, version, order


def test_head_two_annotators_refill_and_data_manager_stream(label_studio, ls_server) -> None:
    ls, server = label_studio, ls_server
    pid, truth, version, order = first_round(ls, server, 3000, "queue head")
    ours = predictions(ls, pid, version)
    assert set(ours) == set(order[:DEPTH]), f"{len(ours)} current predictions in Label Studio, want the first {DEPTH}"
    assert sorted(ours, key=lambda t: ours[t][0]) == order[:DEPTH], "scores encode labelsieve's rank"
    # the ranking's versions only: the quality runner's label-review predictions (labelsieve-review-*, on labelled
    # tasks, never served by /next) may arrive in their own version at any moment after the retrain
    versions = ls.api("GET", f"/api/projects/{pid}/model-versions/").json()
    assert {v: n for v, n in versions.items() if not v.startswith(REVIEW_PREFIX)} == {version: DEPTH}

    served = []  # one annotator: rank 0, 1, 2
    for _ in range(3):
        served.append(next_id(ls, pid))
        annotate(ls, served[-1], truth[served[-1]])
    assert served == order[:3]

    other = ls.create_user("second@example.com")  # two annotators alternately: each gets the lowest unlocked rank
    expected = iter(order[3:])
    a, b = next_id(ls, pid), next_id(ls, pid, other)
    pairs = [(a, next(expected)), (b, next(expected))]
    for _ in range(3):
        annotate(ls, a, truth[a])
        a = next_id(ls, pid)
        pairs.append((a, next(expected)))
        ls.api_as(other, "POST", f"/api/tasks/{b}/annotations/", json={"result": [
            {"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [truth[b]]}}]})
        b = next_id(ls, pid, other)
        pairs.append((b, next(expected)))
    assert [s for s, _ in pairs] == [e for _, e in pairs], "each annotator is served the lowest unlocked rank"
    annotate(ls, a, truth[a])
    annotate(ls, b, truth[b])
    done = set(order[:3]) | {s for s, _ in pairs}

    # more annotations than the head holds, no retrain: the head is refilled from the same ranking
    remaining = [t for t in order if t not in done]
    labelled = 10 + len(done)
    for rank, expected_id in enumerate(remaining[: 3 * DEPTH]):
        settle(server, pid, labelled)
        task_id = next_id(ls, pid)
        assert task_id == expected_id, f"annotation {rank}: served {task_id}, labelsieve's next is {expected_id}"
        annotate(ls, task_id, truth[task_id])
        labelled += 1
    status = settle(server, pid, labelled)
    assert project(ls, pid)["model_version"] == version and status["model_version"] == version, "no retrain ran"
    assert status["queue"]["pushed"] > 3 * DEPTH, status["queue"]

    # the stream the Data Manager starts: its first tab is labelsieve's, ordered by the score, the score shown
    views = ls.api("GET", "/api/dm/views/", params={"project": pid}).json()
    tab = sorted(views, key=lambda v: (v["order"] or 0, v["id"]))[0]["data"]
    assert tab["title"] == "labelsieve ranking" and tab["ordering"] == ["tasks:predictions_score"]
    assert "tasks:predictions_score" not in tab["hiddenColumns"]["explore"]
    assert "tasks:predictions_results" in tab["hiddenColumns"]["explore"]  # score-only predictions showed `[]`
    left = [t for t in order if t not in done and t not in set(remaining[: 3 * DEPTH])]
    for expected_id in left[:3]:
        response = ls.api("POST", "/api/dm/actions/", params={"id": "next_task", "project": pid}, json={
            "filters": tab["filters"], "ordering": tab["ordering"], "selectedItems": {"all": True, "excluded": []}})
        assert response.status_code == 200, response.text[:300]
        assert response.json()["queue"] == "Data manager queue"
        assert int(response.json()["id"]) == expected_id
        annotate(ls, expected_id, truth[expected_id])


def test_new_tasks_ranked_in_a_later_round_without_an_export(label_studio, ls_server) -> None:
    ls, server = label_studio, ls_server
    pid, truth = create_project(ls, "queue new tasks", text_dataset(300, seed=3))
    setup_and_connect(ls, server.url, pid, TEXT_CONFIG, dict(EXTRA, retrain_every=5))
    for tid in list(truth)[:10]:
        annotate(ls, tid, truth[tid])
    first = wait_version(ls, pid, other_than=None, timeout=300)
    mark = len(ls.log_path.read_text(errors="replace"))
    response = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                      json=[{"text": t} for t, _ in text_dataset(40, seed=4)])
    assert response.status_code == 201, response.text
    new_ids = set(response.json()["task_ids"])
    for tid in list(truth)[10:15]:
        annotate(ls, tid, truth[tid])
    second = wait_version(ls, pid, other_than=first, timeout=300)
    assert new_ids <= set(ranking(server, pid, second)), "the imported tasks are in the next ranking"
    requests = ls.log_path.read_text(errors="replace")[mark:]
    assert "/export" not in requests, "no full export after the first contact"
    assert backend_status(server.url, pid)["tasks"] == 340


@pytest.fixture
def postgres_label_studio(tmp_path: Path, postgres_server) -> Iterator[LabelStudioServer]:
    server = start_label_studio(tmp_path / "pg-files", database=postgres_server.create_database())
    yield server
    server.stop()


@pytest.mark.postgres
def test_head_on_label_studio_with_postgresql(postgres_label_studio, tmp_path: Path) -> None:
    ls = postgres_label_studio
    server = ServerProcess(tmp_path / "labelsieve-pg", f"sqlite:///{tmp_path / 'labelsieve-pg.sqlite3'}",
                           LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=ls.token,
                           LABELSIEVE_DEBOUNCE_SECONDS="0.2").start()
    try:
        pid, truth, version, order = first_round(ls, server, 1000, "queue head on PostgreSQL")
        assert set(predictions(ls, pid, version)) == set(order[:DEPTH])
        served = []
        for _ in range(DEPTH + 5):  # past the first head: refilled, still labelsieve's order
            settle(server, pid, 10 + len(served))
            served.append(next_id(ls, pid))
            annotate(ls, served[-1], truth[served[-1]])
        assert served == order[: DEPTH + 5]
        views = ls.api("GET", "/api/dm/views/", params={"project": pid}).json()
        tab = views[0]["data"]
        response = ls.api("POST", "/api/dm/actions/", params={"id": "next_task", "project": pid}, json={
            "filters": tab["filters"], "ordering": tab["ordering"], "selectedItems": {"all": True, "excluded": []}})
        assert int(response.json()["id"]) == order[DEPTH + 5], "PostgreSQL sorts tasks without a score last too"
    finally:
        server.stop()
