"""A pool stored as float16 embeddings (Parquet FLOAT16, half the bytes of float32) is read and ranked exactly as the
same values stored as float32: the picks are the same items, and core-set holds the rows as float16 (no float32
copy of the pool) while computing the float32 values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from labelsieve.learners.vector import VectorLearner
from labelsieve.pool.engine import LocalEngine, no_progress
from labelsieve.pool.model import bundle_learner
from labelsieve.pool.select import SelectRequest, select
from labelsieve.pool.shard import ShardSpec
from labelsieve.pool.source import embedding_matrix, open_pool
from labelsieve.pool.synthetic import embedding_table, write_clustered_pool
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.coreset import CoreSet
from labelsieve.strategies.distance import ChunkedPool

N, DIM = 6000, 16


@pytest.mark.parametrize("strategy", ["margin", "coreset"])
def test_float16_and_float32_pools_of_the_same_values_give_the_same_picks(tmp_path: Path, strategy: str) -> None:
    half, single = tmp_path / "half", tmp_path / "single"
    write_clustered_pool(half, n=N, dim=DIM, files=3, seed=5, row_group=700, dtype=np.float16)
    source = open_pool(half)
    assert pq.ParquetFile(source.paths[0]).schema_arrow.field("embedding").type.value_type == "halffloat"
    vectors = np.vstack([embedding_matrix(pq.read_table(p, columns=["embedding"]), DIM) for p in source.paths])
    assert vectors.dtype == np.float32 and vectors.shape == (N, DIM)
    single.mkdir()
    pq.write_table(embedding_table(np.arange(N, dtype=np.int64), vectors), single / "all.parquet", row_group_size=900)
    labelled = np.arange(0, N, 300)
    learner = VectorLearner().fit(vectors[labelled], [f"c{i % 3}" for i in range(len(labelled))])
    request = SelectRequest(strategy, 40, seed=2, model=bundle_learner("vector", learner),
                            labeled=vectors[labelled] if strategy == "coreset" else None)
    picks = [select(open_pool(folder), request, LocalEngine()).ids for folder in (half, single)]
    assert len(picks[0]) == 40 and picks[0] == picks[1]


def near_tied_half(n: int, dim: int, seed: int) -> np.ndarray:
    """Copies of a few float16 points, some moved by one float16 ulp: exact ties and last-bit near-ties."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((7, dim)).astype(np.float16)[rng.integers(0, 7, n)]
    nudge = rng.integers(0, 2, n).astype(bool)
    vectors[nudge, 0] = np.nextafter(vectors[nudge, 0], np.float16(np.inf))
    return np.ascontiguousarray(vectors)


def test_a_float16_pool_is_held_without_a_float32_copy_and_computes_the_float32_values() -> None:
    half = near_tied_half(3000, 12, seed=1)
    held = ChunkedPool(half, device="cpu", chunk_size=257)
    copy = ChunkedPool(half.astype(np.float32), device="cpu", chunk_size=1000)
    assert held.x.dtype == torch.float16 and held.nbytes == half.nbytes == copy.nbytes // 2
    assert torch.equal(held.sq, copy.sq)
    centres = half[[0, 5, 17]].astype(np.float32)
    assert torch.equal(held.min_sqdist_to(centres), copy.min_sqdist_to(centres))
    state_held, state_copy = held.min_sqdist_to(centres), copy.min_sqdist_to(centres)
    for index in (3, 999, 2500):
        held.update_min_sqdist(state_held, index)
        copy.update_min_sqdist(state_copy, index)
    assert torch.equal(state_held, state_copy)


@pytest.mark.parametrize("prune", [False, True])
def test_float16_shards_pick_what_core_set_picks_on_the_float32_pool(tmp_path: Path, prune: bool) -> None:
    vectors = near_tied_half(5000, 12, seed=2)
    bounds = [0, 1234, 1240, 3900, 5000]
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        pq.write_table(embedding_table(np.arange(start, stop), vectors[start:stop], np.float16),
                       tmp_path / f"f{index}.parquet", row_group_size=333)
    source = open_pool(tmp_path)
    widened = vectors.astype(np.float32)
    labelled = widened[[1, 2]]
    engine = LocalEngine(n_shards=3)
    request = SelectRequest("coreset", 40, seed=3, prune=prune, labeled=labelled, chunk_size=400)
    with engine.shards(source, ShardSpec(units=(), dim=12, mode="coreset"), no_progress) as (shards, _sizes):
        assert {shard.pool.x.dtype for shard in shards.items} == {torch.float16}  # half the bytes of float32
    picked = select(source, request, engine)
    context = PoolContext(pool=widened, learner=None, rng=np.random.default_rng(3), pool_embeddings=widened,
                          labeled_embeddings_given=labelled)
    reference = CoreSet(device="cpu", prune=prune, chunk_size=1000).select(context, 40)
    assert picked.positions == reference.tolist()
