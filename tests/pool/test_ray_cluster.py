"""The Ray engine on a real local cluster (a head and a worker node, each its own ``ray start`` process)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import ray

from labelsieve.pool.model import bundle_learner
from labelsieve.pool.ray_engine import RayEngine
from labelsieve.pool.select import SelectRequest, select
from labelsieve.pool.source import open_pool
from labelsieve.strategies.badge import Badge
from labelsieve.strategies.coreset import CoreSet
from tests.pool.conftest import PICKS, SEED, BigPool, requests_for
from tests.pool.test_tied_layouts import tied_context

pytestmark = pytest.mark.slow


def test_cluster_has_a_head_and_a_worker_node(ray_cluster: object) -> None:
    alive = [node for node in ray.nodes() if node["Alive"]]
    assert len(alive) == 2
    assert ray.cluster_resources()["CPU"] == 2


@pytest.mark.parametrize("case", ["margin", "coreset", "coreset_cold", "badge"])
def test_ray_picks_equal_the_single_process_strategy(ray_cluster: object, big_pool: BigPool, case: str) -> None:
    request = SelectRequest(seed=SEED, **requests_for(big_pool)[case])  # type: ignore[arg-type]
    selection = select(big_pool.source, request, RayEngine())
    assert selection.positions == big_pool.reference[case].tolist()
    assert selection.ids == big_pool.reference[case].tolist()  # ids are the positions in this pool


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_a_killed_shard_worker_is_restarted_and_the_picks_are_unchanged(ray_cluster: object, big_pool: BigPool
                                                                         ) -> None:
    pids: dict[str, int] = {}

    def on_pick(step: int) -> None:
        actor = ray.get_actor("kill-test-shard-0")
        if step == 10:  # a known point: ten picks applied on every shard
            pids["killed"] = ray.get(actor.pid.remote())
            os.kill(pids["killed"], signal.SIGKILL)
            deadline = time.monotonic() + 30
            while not _gone(pids["killed"]) and time.monotonic() < deadline:
                time.sleep(0.05)
        elif step == 12:
            pids["restarted"] = ray.get(actor.pid.remote())

    request = SelectRequest(seed=SEED, **requests_for(big_pool)["coreset"])  # type: ignore[arg-type]
    selection = select(big_pool.source, request, RayEngine(run_name="kill-test"), on_pick=on_pick)
    assert _gone(pids["killed"])
    assert pids["restarted"] != pids["killed"]
    assert selection.positions == big_pool.reference["coreset"].tolist()
    assert np.isfinite(selection.scores[1:]).all()


@pytest.mark.parametrize("strategy", ["coreset", "badge"])
def test_ray_shards_pick_what_the_single_process_strategy_picks_with_ties(ray_cluster: object, tied,
                                                                          strategy: str) -> None:
    from labelsieve.pool.ray_engine import RayEngine

    folder, vectors, learner = tied
    if strategy == "coreset":
        request = SelectRequest("coreset", PICKS, seed=2, labeled=vectors[[0, 1, 2]], chunk_size=500)
        reference = CoreSet(device="cpu").select(tied_context(vectors, 2, pool_embeddings=vectors,
                                                          labeled_embeddings_given=vectors[[0, 1, 2]]), PICKS)
    else:
        request = SelectRequest("badge", PICKS, seed=4, model=bundle_learner("vector", learner), chunk_size=500)
        reference = Badge(device="cpu").select(tied_context(vectors, 4, learner=learner), PICKS)
    picked = select(open_pool(folder), request, RayEngine(workers=2))
    assert picked.positions == reference.tolist()


def test_the_device_reaches_the_scoring_actors(ray_cluster: object, big_pool: BigPool) -> None:
    """On this cluster (no GPU) ``auto`` reserves none and each actor reports that it scored on the CPU."""
    engine = RayEngine(device="auto")
    request = SelectRequest(seed=SEED, **requests_for(big_pool)["margin"])  # type: ignore[arg-type]
    selection = select(big_pool.source, request, engine)
    assert engine.devices_ == ["cpu"]
    assert selection.positions == big_pool.reference["margin"].tolist()
