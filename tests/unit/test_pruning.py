"""The background prune of stale versions without a Label Studio: held until released, joined by writers, a
failure shown and retried by the next prune, the live version never deleted, shutdown finishing held prunes.
(Against a real Label Studio: tests/e2e/test_live_prune.py.)"""

from __future__ import annotations

import threading

from labelsieve.labelstudio.client import LabelStudioError
from labelsieve.labelstudio.stale_versions import StaleVersionRemover, stale_versions

V = [f"labelsieve-v{i}-2026120215000{i}" for i in range(1, 6)]


class _Versions:
    """Label Studio's model-versions endpoint over a dict; ``fail`` makes the next delete answer an error."""

    base_url = "http://ls.example"

    def __init__(self, versions: list[str]) -> None:
        self.versions = dict.fromkeys(versions, 100) | {"other-model-1": 5, "labelsieve-review-v1-x": 3}
        self.fail = 0
        self.deleting = threading.Event()

    def model_versions(self, project_id: int) -> dict[str, int]:
        return dict(self.versions)

    def delete_model_version(self, project_id: int, model_version: str) -> int:
        self.deleting.set()
        if self.fail:
            self.fail -= 1
            raise LabelStudioError("HTTP 500: database is locked")
        return self.versions.pop(model_version)


def test_stale_versions_keep_the_live_one_the_newest_others_and_other_models() -> None:
    everything = [V[3], V[0], "other-model-1", V[2], "labelsieve-review-v1-x", V[1]]
    assert stale_versions(everything, V[3], 2) == [V[0], V[1]]
    assert stale_versions(everything, V[3], 1) == [V[0], V[1], V[2]]
    assert stale_versions([V[0]], V[0], 1) == []


def test_held_until_released_then_joined_and_a_failure_is_shown_and_retried() -> None:
    client, pruner = _Versions(V[:3]), StaleVersionRemover(keep_versions=2, delay_seconds=3600)
    client.fail = 1
    pruner.start(client, 7, V[2])
    assert pruner.status(7)["state"] == "held" and not client.deleting.is_set(), "nothing deleted before release"
    pruner.release(7)
    pruner.join(7)
    failed = pruner.status(7)
    assert failed["state"] == "failed" and "database is locked" in failed["error"]
    assert failed["consecutive_failures"] == 1 and V[0] in client.versions and V[2] in client.versions

    client.versions[V[3]] = 100  # the next round went live: its prune deletes what the failed one left, too
    pruner.start(client, 7, V[3])
    assert pruner.join(7) >= 0.0
    done = pruner.status(7)
    assert done["state"] == "done" and done["versions"] == [V[0], V[1]] and done["deleted"] == 200
    assert done["consecutive_failures"] == 0 and done["error"] is None
    assert set(client.versions) == {V[2], V[3], "other-model-1", "labelsieve-review-v1-x"}


def test_stop_runs_the_held_prunes_and_waits_for_them() -> None:
    a, b = _Versions(V[:3]), _Versions(V[:4])
    pruner = StaleVersionRemover(keep_versions=2, delay_seconds=3600)
    pruner.start(a, 1, V[2])
    pruner.start(b, 2, V[3])
    pruner.stop()
    assert V[0] not in a.versions and V[2] in a.versions
    assert {V[0], V[1]}.isdisjoint(b.versions) and {V[2], V[3]} <= set(b.versions)
    assert pruner.status(1)["state"] == pruner.status(2)["state"] == "done"
