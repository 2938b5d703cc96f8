"""First contact against a real Label Studio 1.23.2: connecting a project that already has labels is enough.

Label Studio's own *Connect model* (``POST /api/ml``) calls ``/setup``; labelsieve syncs the project in the
background, trains on the existing annotations and pushes a head that ``/next`` serves, with no further annotation.
On a project whose task list takes several pages, the first head is served while the sync is held after its first
page (``LABELSIEVE_TEST_BLOCK_SYNC``), and the whole pool is ranked again once the sync ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import pytest

from tests.e2e.helpers import (
    TEXT_CONFIG,
    annotate,
    backend_status,
    connect_backend,
    create_project,
    predictions,
    text_dataset,
    wait_version,
)
from tests.harness.labelstudio import LabelStudioServer
from tests.reliability.server import ServerProcess

DEPTH = 10
EXTRA = {"learner": "text", "strategy": "margin", "min_annotations": 10, "queue_depth": DEPTH}
N_LABELLED = 12


def start_server(tmp_path: Path, ls: LabelStudioServer, **env: str) -> ServerProcess:
    server = ServerProcess(tmp_path / "labelsieve", f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}",
                           LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=ls.token, LABELSIEVE_DEBOUNCE_SECONDS="0.2",
                           **env).start()
    # load the learners and strategies once, on a project Label Studio does not have (its first contact fails
    # quietly), so Label Studio's own /setup answers inside its 3 s
    httpx.post(f"{server.url}/setup", json={"project": "999999.0", "schema": TEXT_CONFIG, "extra_params": EXTRA},
               timeout=300).raise_for_status()
    return server


@pytest.fixture
def plain_server(tmp_path: Path, label_studio: LabelStudioServer) -> Iterator[ServerProcess]:
    server = start_server(tmp_path, label_studio)
    yield server
    server.stop()


def labelled_before_connecting(ls: LabelStudioServer, title: str, n: int) -> tuple[int, dict[int, str], set[int]]:
    pid, truth = create_project(ls, title, text_dataset(n, seed=11))
    labelled = set(list(truth)[:N_LABELLED])
    for tid in labelled:
        annotate(ls, tid, truth[tid])
    return pid, truth, labelled


def served_head(ls: LabelStudioServer, pid: int, version: str, labelled: set[int]) -> int:
    """The task ``/next`` serves, asserted to be labelsieve's rank 0 (the lowest score of ``version``)."""
    ours = {t: score for t, (score, _) in predictions(ls, pid, version).items() if t not in labelled}
    assert ours, f"no prediction of {version} in Label Studio"
    served = int(ls.api("GET", f"/api/projects/{pid}/next").json()["id"])
    assert served in ours, f"/next served task {served}, not one of labelsieve's {len(ours)} predictions"
    assert ours[served] == min(ours.values()), "/next serves labelsieve's rank 0"
    return served


def project_reads(ls: LabelStudioServer, mark: int, pid: int) -> list[str]:
    """The ``GET /api/projects/{pid}/...`` request lines Label Studio logged since ``mark``."""
    lines = ls.log_path.read_text(errors="replace")[mark:].splitlines()
    return [unquote_plus(line).split('"')[1] for line in lines if f"GET /api/projects/{pid}/" in line
            and '"' in line]


def test_connecting_a_labelled_project_trains_and_serves_its_head(label_studio, plain_server) -> None:
    ls, server = label_studio, plain_server
    pid, _truth, labelled = labelled_before_connecting(ls, "connect labelled", 60)
    mark = len(ls.log_path.read_text(errors="replace"))

    connect_backend(ls, pid, server.url, EXTRA)  # Label Studio's Connect model: /health, /setup
    reads = [r for r in project_reads(ls, mark, pid) if r.startswith(f"GET /api/projects/{pid}/ ")
             or r.startswith(f"GET /api/projects/{pid}/?")]
    # /setup's check of Label Studio (and the first contact's task count) read the project without its counters
    assert any(r.startswith(f"GET /api/projects/{pid}/?include=id ") for r in reads), reads
    assert all("?include=" in r for r in reads), reads

    version = wait_version(ls, pid, other_than=None, timeout=300)  # no annotation after connecting
    served_head(ls, pid, version, labelled)
    status = backend_status(server.url, pid)
    assert status["labeled_tasks"] == N_LABELLED
    assert status["tasks"] == 60
    assert status["first_contact"]["state"] == "done"
    assert status["first_contact"]["annotations"] == N_LABELLED
    assert status["versions"][0]["n_train"] == N_LABELLED


def wait_for(path: Path, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)
    return path.read_text()


def test_first_head_is_served_before_a_paged_sync_ends(tmp_path: Path, label_studio) -> None:
    ls = label_studio
    n, first_page, page = 300, 30, 50  # pages of 30, 50, 50, 50, 50, 50 and 20 tasks
    held = tmp_path / "sync-held"
    server = start_server(tmp_path, ls, LABELSIEVE_FIRST_CONTACT_PAGE_SIZE=str(page),
                          LABELSIEVE_FIRST_CONTACT_FIRST_PAGE_SIZE=str(first_page),
                          LABELSIEVE_TEST_BLOCK_SYNC=str(held))
    try:
        pid, truth, labelled = labelled_before_connecting(ls, "connect paged", n)
        connect_backend(ls, pid, server.url, EXTRA)
        assert wait_for(held).split() == [str(pid), "2"], "the sync holds before its second page"

        first = wait_version(ls, pid, other_than=None, timeout=300)
        served_head(ls, pid, first, labelled)
        status = backend_status(server.url, pid)
        contact = status["first_contact"]
        assert contact["state"] == "syncing" and contact["pages"] == 1, contact
        assert contact["tasks_synced"] == first_page and contact["tasks_total"] == n, contact
        assert status["last_round"]["n_pool"] == first_page - N_LABELLED, "the first head ranks the part synced"
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        assert pid in [c["project_id"] for c in health["first_contacts"] if c["state"] == "syncing"]

        held.with_name(held.name + ".release").write_text("")
        deadline = time.monotonic() + 300
        while True:
            status = backend_status(server.url, pid)
            if status["first_contact"]["state"] == "done" and status["model_version"] != first:
                break
            assert time.monotonic() < deadline, status["first_contact"]
            time.sleep(0.3)
        assert status["tasks"] == n
        assert status["first_contact"]["pages"] == 7
        assert status["first_contact"]["rounds"] == ["first-head", "full-pool"]
        assert status["last_round"]["n_pool"] == n - N_LABELLED, "after the sync the whole pool is ranked again"
        assert pid not in [c["project_id"] for c in httpx.get(f"{server.url}/health", timeout=30).json()[
            "first_contacts"]]
    finally:
        server.stop()


def test_connecting_a_project_without_labels_serves_a_cold_start_head(label_studio, plain_server) -> None:
    ls, server = label_studio, plain_server
    pid, _truth = create_project(ls, "connect cold", text_dataset(60, seed=12))
    connect_backend(ls, pid, server.url, {**EXTRA, "strategy": "adaptive"})  # TypiClust while there is no model

    version = wait_version(ls, pid, other_than=None, timeout=300)  # no annotation at all
    served_head(ls, pid, version, set())
    status = backend_status(server.url, pid)
    assert status["cold_start"]["state"] == "ranked" and status["cold_start"]["version"] == version
    assert status["cold_start"]["n_pool"] == 60
    assert not status["model_version"], "a cold head is no model: /predict keeps answering without one"
    assert all(result is None for _score, result in predictions(ls, pid, version).values()), "nothing pre-ticked"
