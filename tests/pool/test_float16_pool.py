"""A pool stored as float16 embeddings (Parquet FLOAT16, half the bytes of float32) is read and ranked exactly as the
same values stored as float32: the picks are the same items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from labelsieve.learners.vector import VectorLearner
from labelsieve.pool.engine import LocalEngine
from labelsieve.pool.model import bundle_learner
from labelsieve.pool.select import SelectRequest, select
from labelsieve.pool.source import embedding_matrix, open_pool
from labelsieve.pool.synthetic import embedding_table, write_clustered_pool

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
