"""The prune of stale prediction versions against a real Label Studio 1.23.2 runs while the next round fits, the
next push waits for it, the stale versions are gone after it, and shutdown finishes the one still held.

``LABELSIEVE_TEST_BLOCK_PRUNE`` (service/fault_hooks.py) holds a prune right before its deletes until the test
releases it, so the test knows where the prune is without racing it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.e2e.helpers import (
    annotate,
    backend_status,
    connect_backend,
    create_project,
    project,
    text_dataset,
    wait_version,
)
from tests.harness.labelstudio import LabelStudioServer
from tests.reliability.server import ServerProcess

EXTRA = {"learner": "text", "strategy": "margin", "min_annotations": 6, "retrain_every": 1, "queue_depth": 10}


def ls_versions(ls: LabelStudioServer, pid: int) -> set[str]:
    """The ranking versions in Label Studio (the quality runner's ``labelsieve-review-*`` ones are its own)."""
    return {v for v in ls.api("GET", f"/api/projects/{pid}/model-versions/").json() if v.startswith("labelsieve-v")}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_prune_runs_while_the_next_round_fits_and_its_push_waits(tmp_path: Path,
                                                                 label_studio: LabelStudioServer) -> None:
    ls, held = label_studio, tmp_path / "prune-held"
    server = ServerProcess(tmp_path / "labelsieve", f"sqlite:///{tmp_path / 'labelsieve.sqlite3'}",
                           LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=ls.token, LABELSIEVE_DEBOUNCE_SECONDS="0.2",
                           LABELSIEVE_TEST_BLOCK_PRUNE=str(held),
                           LABELSIEVE_PRUNE_HOLD_SECONDS="600").start()  # a prune runs only once a round starts
    try:
        pid, truth = create_project(ls, "prune beside the fit", text_dataset(300, seed=11))
        connect_backend(ls, pid, server.url, EXTRA)
        order = list(truth)
        for tid in order[:6]:
            annotate(ls, tid, truth[tid])
        versions = [wait_version(ls, pid, other_than=None, timeout=300)]
        for tid in order[6:8]:  # two more rounds: v1 stays (keep 2), then v1 is stale once v3 is live
            annotate(ls, tid, truth[tid])
            versions.append(wait_version(ls, pid, other_than=versions[-1]))
        assert ls_versions(ls, pid) == set(versions), "v3's prune waits for the next round"
        wait_for("v3's prune to be started (right after its switch)",
                 lambda: backend_status(server.url, pid)["prune"]["after"] == versions[2])
        assert backend_status(server.url, pid)["prune"]["state"] == "held"

        annotate(ls, order[8], truth[order[8]])  # round 4 starts: v3's prune runs and is held before its deletes
        wait_for("the prune to reach its deletes", held.exists)
        wait_for("round 4's push to wait for the prune",
                 lambda: bool(backend_status(server.url, pid)["prune"]["writer_waiting"]))
        status = backend_status(server.url, pid)
        fitted = [v["version"] for v in status["versions"] if v["status"] == "ready"]
        assert len(fitted) == 4 and fitted[:3] == versions, "round 4 fitted and ranked while the prune was held"
        assert status["prune"] | {"state": "running", "after": versions[2]} == status["prune"]
        assert project(ls, pid)["model_version"] == versions[2], "its push waits for the prune"
        assert ls_versions(ls, pid) == set(versions), "nothing of round 4 is in Label Studio yet, nothing deleted"

        held.with_name(held.name + ".release").touch()
        versions.append(wait_version(ls, pid, other_than=versions[2]))
        assert versions[3] == fitted[3]
        assert ls_versions(ls, pid) == {versions[1], versions[2], versions[3]}, "the stale v1 is gone"
        wait_for("v4's prune to be started", lambda: backend_status(server.url, pid)["prune"]["after"] == versions[3])
        prune = backend_status(server.url, pid)["prune"]
        assert prune["state"] == "held" and prune["consecutive_failures"] == 0
    finally:
        server.stop()  # shutdown runs v4's held prune and waits for it
    assert ls_versions(ls, pid) == {versions[2], versions[3]}, "shutdown finished the prune of v2"
