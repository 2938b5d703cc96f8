"""A 200k-item pool split into many Parquet files, its single-process reference picks, and a real Ray cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from labelsieve.learners.vector import VectorLearner
from labelsieve.pool.model import ModelBundle, bundle_learner
from labelsieve.pool.source import PoolSource, embedding_matrix, open_pool
from labelsieve.pool.synthetic import embedding_table, write_clustered_pool
from labelsieve.strategies.badge import Badge
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.coreset import CoreSet
from labelsieve.strategies.uncertainty import Margin

N_ITEMS, DIM, FILES, ROW_GROUP = 200_000, 16, 25, 4000
SEED = 11
N_MARGIN, N_CORESET, N_BADGE = 500, 48, 40


@dataclass
class BigPool:
    source: PoolSource
    vectors: np.ndarray  # the whole pool, for the single-process reference only
    labelled: np.ndarray  # positions of the labelled items
    learner: VectorLearner
    model: ModelBundle
    reference: dict[str, np.ndarray]


@pytest.fixture(scope="session")
def big_pool(tmp_path_factory: pytest.TempPathFactory) -> BigPool:
    folder = tmp_path_factory.mktemp("pool200k")
    write_clustered_pool(folder, n=N_ITEMS, dim=DIM, files=FILES, seed=3, row_group=ROW_GROUP, with_cluster=True)
    source = open_pool(folder)
    vectors = np.vstack([embedding_matrix(pq.read_table(p, columns=["embedding"]), DIM) for p in source.paths])
    clusters = np.concatenate([pq.read_table(p, columns=["cluster"]).column(0).to_numpy() for p in source.paths])
    labelled = np.arange(0, N_ITEMS, 1000)
    learner = VectorLearner().fit(vectors[labelled], [f"c{c % 4}" for c in clusters[labelled]])

    def ctx(**kw: object) -> PoolContext:
        return PoolContext(learner=kw.pop("learner", None), rng=np.random.default_rng(SEED), **kw)  # type: ignore[arg-type]

    reference = {
        "margin": Margin().select(ctx(pool=vectors, learner=learner), N_MARGIN),
        "coreset": CoreSet(device="cpu").select(ctx(pool=vectors, pool_embeddings=vectors,
                                                    labeled_embeddings_given=vectors[labelled]), N_CORESET),
        "coreset_cold": CoreSet(device="cpu").select(ctx(pool=vectors, pool_embeddings=vectors), N_CORESET),
        "badge": Badge(device="cpu").select(ctx(pool=vectors, learner=learner), N_BADGE),
    }
    return BigPool(source, vectors, labelled, learner, bundle_learner("vector", learner), reference)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """``ray start --head`` + one ``ray start --address`` worker node, each its own process; this test process
    connects as the driver. Stopped by PID (process groups), never ``ray stop``."""
    import ray

    from tests.harness.ray_cluster import RayCluster

    # Ray Data polls a Prometheus server (default http://localhost:9090) for usage metrics: point it at a closed
    # loopback port so the tests never query whatever else listens on 9090
    os.environ.setdefault("RAY_PROMETHEUS_HOST", "http://127.0.0.1:9")
    # a throwaway loopback cluster of this test run: Ray 2.60's token authentication (on by default for `ray start`)
    # would make its nodes and this driver agree on ~/.ray/auth_token, which other runs on the machine rewrite
    os.environ["RAY_AUTH_MODE"] = "disabled"
    # this driver too: no usage reporting, and no Ray Data metrics-poller thread living on in the test process
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_DATA_USAGE_DISABLED"] = "1"

    cluster = RayCluster(workers=1)
    cluster.start()
    try:
        ray.init(address=cluster.address, log_to_driver=False, include_dashboard=False)
        cluster.wait_nodes(lambda: sum(1 for node in ray.nodes() if node["Alive"]))
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
    assert cluster.leftovers() == [], "Ray processes of the test cluster are still running"


def requests_for(pool: BigPool) -> dict[str, dict[str, object]]:
    """The pool-side request matching each reference above."""
    return {
        "margin": {"strategy": "margin", "n": N_MARGIN, "model": pool.model},
        "coreset": {"strategy": "coreset", "n": N_CORESET, "labeled": pool.vectors[pool.labelled]},
        "coreset_cold": {"strategy": "coreset", "n": N_CORESET},
        "badge": {"strategy": "badge", "n": N_BADGE, "model": pool.model},
    }


def folder_of(pool: BigPool) -> Path:
    return Path(pool.source.paths[0]).parent


# ---- pools of exact and near ties (tests/pool/test_tied_layouts.py, test_ray_cluster.py) ----
TIED_ITEMS, TIED_DIM, PICKS = 2600, 6, 24


def tied_pool_vectors(kind: str) -> np.ndarray:
    rng = np.random.default_rng(5)
    distinct = rng.standard_normal((9, TIED_DIM)).astype(np.float32)
    vectors = distinct[rng.integers(0, 9, TIED_ITEMS)]
    if kind == "near":  # each copy moved by 0, 1 or 2 ulps in one coordinate: distances differ in the last bits
        steps = rng.integers(0, 3, TIED_ITEMS)
        column = vectors[:, 0].copy()
        for _ in range(2):
            column = np.where(steps > _, np.nextafter(column, np.float32(np.inf)), column)
        vectors[:, 0] = column
    return np.ascontiguousarray(vectors)


def _write_uneven(folder: Path, vectors: np.ndarray) -> Path:
    """Uneven files (and row groups) so that every sharding gives shards of different shapes."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, 413, 1290, 1301, 2050, TIED_ITEMS]
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        ids = np.arange(start, stop)
        pq.write_table(embedding_table(ids, vectors[start:stop]), folder / f"f{index}.parquet",
                       row_group_size=97 + 61 * index)
    return folder


@pytest.fixture(scope="module", params=["exact", "near"])
def tied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    vectors = tied_pool_vectors(request.param)
    folder = _write_uneven(tmp_path_factory.mktemp(f"tied-{request.param}"), vectors)
    learner = VectorLearner().fit(vectors[:40], [f"c{i % 3}" for i in range(40)])
    return folder, vectors, learner
