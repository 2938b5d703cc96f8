"""Core-set and BADGE pick the same items however the pool is sharded: exact ties and near-ties.

A pool of copies of a few vectors has exact ties in every distance; copies nudged by one or two ulps have
near-ties. BLAS GEMV gives a row's dot product other last bits depending on how many rows a call gets, so
before the row-by-row kernels (``strategies.distance.row_dots``) the pick among tied copies depended on the
shard layout and the CPU. Shards here differ in shape (uneven files and row groups).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labelsieve.pool.engine import LocalEngine
from labelsieve.pool.model import bundle_learner
from labelsieve.pool.select import SelectRequest, select
from labelsieve.pool.source import open_pool
from labelsieve.strategies.badge import Badge
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.coreset import CoreSet
from labelsieve.strategies.distance import ChunkedPool, row_dots
from tests.pool.conftest import PICKS, tied_pool_vectors


def tied_context(vectors: np.ndarray, seed: int, **extra: object) -> PoolContext:
    extra.setdefault("learner", None)
    return PoolContext(pool=vectors, rng=np.random.default_rng(seed), **extra)  # type: ignore[arg-type]


def test_row_dots_do_not_depend_on_which_rows_share_the_call() -> None:
    rng = np.random.default_rng(0)
    rows = torch.from_numpy(rng.standard_normal((5000, 64)).astype(np.float32))
    centre = torch.from_numpy(rng.standard_normal(64).astype(np.float32))
    whole = row_dots(rows, centre)
    for start, stop in [(0, 1), (3, 10), (746, 750), (1000, 4093), (4999, 5000)]:
        assert torch.equal(row_dots(rows[start:stop], centre), whole[start:stop])
    pool = ChunkedPool(rows.numpy(), device="cpu", chunk_size=333)
    other = ChunkedPool(rows.numpy()[746:], device="cpu", chunk_size=4096)
    assert torch.equal(pool.sq[746:], other.sq)  # squared norms: the same bits in any layout


@pytest.mark.parametrize("n_shards", [1, 3, 4, 7])
@pytest.mark.parametrize("prune", [False, True])
def test_core_set_picks_are_the_same_in_every_sharding(tied, n_shards: int, prune: bool) -> None:
    folder, vectors, _ = tied
    labelled = vectors[[0, 1, 2]]
    for seed, given in ((2, None), (3, labelled)):
        request = SelectRequest("coreset", PICKS, seed=seed, prune=prune, labeled=given, chunk_size=500)
        picked = select(open_pool(folder), request, LocalEngine(n_shards=n_shards))
        extra = {} if given is None else {"labeled_embeddings_given": given}
        reference = CoreSet(device="cpu", prune=prune).select(
            tied_context(vectors, seed, pool_embeddings=vectors, **extra), PICKS)
        assert picked.positions == reference.tolist(), (seed, n_shards)


def test_exact_copies_go_to_the_lowest_index(tied) -> None:
    folder, vectors, _ = tied
    if not np.array_equal(vectors, tied_pool_vectors("exact")):
        pytest.skip("tie rule of exact copies only")
    picked = select(open_pool(folder), SelectRequest("coreset", 9, seed=2, prune=False), LocalEngine(n_shards=4))
    assert len({tuple(v) for v in vectors[picked.positions]}) == 9  # each of the 9 distinct points once
    for position in picked.positions[1:]:
        copies = np.flatnonzero((vectors == vectors[position]).all(axis=1))
        assert position == copies.min()


@pytest.mark.parametrize("n_shards", [1, 3, 4, 7])
def test_badge_picks_are_the_same_in_every_sharding(tied, n_shards: int) -> None:
    folder, vectors, learner = tied
    request = SelectRequest("badge", PICKS, seed=4, model=bundle_learner("vector", learner), chunk_size=500)
    picked = select(open_pool(folder), request, LocalEngine(n_shards=n_shards))
    reference = Badge(device="cpu").select(tied_context(vectors, 4, learner=learner), PICKS)
    assert picked.positions == reference.tolist()

