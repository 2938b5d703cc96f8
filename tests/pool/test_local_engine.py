"""The pool code in one process: the same picks as the single-process strategies, ties, exclusion, memory."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelsieve.learners.vector import VectorLearner
from labelsieve.pool.engine import EngineUnavailable, LocalEngine, ScoreJob, make_engine, no_progress
from labelsieve.pool.model import bundle_learner
from labelsieve.pool.select import SelectionError, SelectRequest, select
from labelsieve.pool.source import PoolError, exclusion, open_pool
from labelsieve.pool.synthetic import embedding_table
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.coreset import CoreSet
from labelsieve.strategies.uncertainty import Entropy, Margin
from tests.pool.conftest import SEED, BigPool, requests_for


@pytest.mark.slow
@pytest.mark.parametrize("case", ["margin", "coreset", "coreset_cold", "badge"])
def test_local_shards_pick_what_the_single_process_strategy_picks(big_pool: BigPool, case: str) -> None:
    request = SelectRequest(seed=SEED, **requests_for(big_pool)[case])  # type: ignore[arg-type]
    selection = select(big_pool.source, request, LocalEngine(n_shards=3))
    assert selection.positions == big_pool.reference[case].tolist()


def _write(folder: Path, ids: list, vectors: np.ndarray, files: int, row_group: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(np.array_split(np.arange(len(ids)), files)):
        table = embedding_table(np.asarray(ids, dtype=object)[part].tolist() if isinstance(ids[0], str)
                                else np.asarray(ids)[part], vectors[part], text=np.array([f"item {ids[i]}"
                                                                                          for i in part]))
        pq.write_table(table, folder / f"f{index:02d}.parquet", row_group_size=row_group)
    return folder


@pytest.fixture
def tied_pool(tmp_path: Path) -> tuple[Path, np.ndarray, VectorLearner]:
    """3000 items that are copies of 12 vectors: exact ties in every score and every distance."""
    rng = np.random.default_rng(0)
    distinct = rng.standard_normal((12, 6)).astype(np.float32)
    vectors = distinct[rng.integers(0, 12, 3000)]
    learner = VectorLearner().fit(distinct, [f"c{i % 3}" for i in range(12)])
    return _write(tmp_path / "tied", list(range(3000)), vectors, files=4, row_group=333), vectors, learner


@pytest.mark.parametrize("strategy", [Margin, Entropy])
def test_ties_are_broken_like_the_single_process_top_n(tied_pool, strategy) -> None:
    folder, vectors, learner = tied_pool
    name = "margin" if strategy is Margin else "entropy"
    picked = select(open_pool(folder), SelectRequest(name, 700, seed=4, model=bundle_learner("vector", learner)),
                    LocalEngine())
    reference = strategy().select(PoolContext(pool=vectors, learner=learner, rng=np.random.default_rng(4)), 700)
    assert picked.positions == reference.tolist()


def test_core_set_ties_go_to_the_lowest_index_as_in_the_single_process_loop(tied_pool) -> None:
    folder, vectors, _ = tied_pool
    picked = select(open_pool(folder), SelectRequest("coreset", 20, seed=2, prune=False), LocalEngine(n_shards=4))
    reference = CoreSet(device="cpu", prune=False).select(
        PoolContext(pool=vectors, learner=None, rng=np.random.default_rng(2), pool_embeddings=vectors), 20)
    assert picked.positions == reference.tolist()
    copies = {tuple(v) for v in vectors[picked.positions[:12]]}
    assert len(copies) == 12  # every distinct point is covered first, each by its lowest-index copy


def test_excluded_items_are_never_picked_and_string_ids_work(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((5000, 8)).astype(np.float32)
    ids = [f"doc-{i}" for i in range(5000)]
    folder = _write(tmp_path / "strings", ids, vectors, files=3, row_group=700)
    source = open_pool(folder)
    first = select(source, SelectRequest("coreset", 40, seed=0), LocalEngine())
    assert all(isinstance(i, str) and i.startswith("doc-") for i in first.ids)
    kept = np.setdiff1d(np.arange(5000), first.positions)
    second = select(source, SelectRequest("coreset", 40, seed=0, exclude=exclusion(first.ids),
                                          labeled=vectors[first.positions]), LocalEngine(n_shards=2))
    assert not set(second.ids) & set(first.ids)
    reference = CoreSet(device="cpu").select(PoolContext(
        pool=vectors[kept], learner=None, rng=np.random.default_rng(0), pool_embeddings=vectors[kept],
        labeled_embeddings_given=vectors[first.positions]), 40)
    assert second.positions == kept[reference].tolist()


@pytest.mark.slow
def test_scoring_memory_is_bounded_by_the_block_not_the_pool(big_pool: BigPool) -> None:
    engine = LocalEngine()
    job = ScoreJob(strategy="margin", model=big_pool.model, dim=big_pool.source.dim or 0, exclude=None,
                   rng_state=np.random.default_rng(0).bit_generator.state, n=100)
    pool_bytes = big_pool.vectors.nbytes
    arrow_before = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        engine.top_n(big_pool.source, job, no_progress)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < pool_bytes / 10, f"peak {peak} bytes while scoring a {pool_bytes}-byte pool"
    assert pa.total_allocated_bytes() - arrow_before < pool_bytes / 10


def test_unusable_requests_say_what_is_wrong(tied_pool, tmp_path: Path) -> None:
    folder, _, _ = tied_pool
    with pytest.raises(SelectionError, match="needs a trained model"):
        select(open_pool(folder), SelectRequest("margin", 5), LocalEngine())
    with pytest.raises(SelectionError, match="does not run on pools"):
        select(open_pool(folder), SelectRequest("qbc", 5), LocalEngine())
    pq.write_table(pa.table({"name": ["a"]}), tmp_path / "noid.parquet")
    with pytest.raises(PoolError, match="has no 'id' column"):
        open_pool(tmp_path / "noid.parquet")
    with pytest.raises(PoolError, match="no Parquet files"):
        open_pool(tmp_path / "missing")


def test_ray_engine_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delitem(sys.modules, "labelsieve.pool.ray_engine", raising=False)
    with pytest.raises(EngineUnavailable, match=r"pip install 'labelsieve\[ray\]'"):
        make_engine("ray")
