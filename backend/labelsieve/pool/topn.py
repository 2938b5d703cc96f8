"""Global top-n of an uncertainty score from per-block top-n, with the single-process tie-break.

:func:`labelsieve.strategies.base.top_n` orders by score (descending), then by ``rng.random(n_pool)``
(descending), then by position. That is a total order, so the global top ``n`` is the top ``n`` of the
union of every block's top ``n``. The tie-break of position ``i`` is the ``i``-th double of the stream:
a block starts a copy of the generator advanced by its offset (PCG64 draws one 64-bit word per double).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labelsieve.strategies.base import PoolContext, QueryStrategy

UNCERTAINTY = ("margin", "entropy", "least_confidence")


@dataclass(frozen=True)
class Candidates:
    """Some pool items with their score and tie-break, best first."""

    positions: np.ndarray  # int64 global positions
    ids: np.ndarray
    scores: np.ndarray  # float64
    tiebreak: np.ndarray  # float64

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def as_batch(self) -> dict[str, np.ndarray]:
        return {"position": self.positions, "id": self.ids, "score": self.scores, "tiebreak": self.tiebreak}

    @classmethod
    def from_batch(cls, batch: dict[str, Any]) -> Candidates:
        return cls(np.asarray(batch["position"], np.int64), np.asarray(batch["id"]),
                   np.asarray(batch["score"], np.float64), np.asarray(batch["tiebreak"], np.float64))


def tiebreak_stream(state: dict[str, Any], offset: int, rows: int) -> np.ndarray:
    """Doubles ``offset .. offset + rows`` of ``Generator(PCG64 with state).random(...)``."""
    if state.get("bit_generator") != "PCG64":
        raise ValueError(f"tie-breaks need a PCG64 generator (np.random.default_rng), got {state.get('bit_generator')}")
    bits = np.random.PCG64()
    bits.state = state
    bits.advance(offset)
    return np.random.Generator(bits).random(rows)


def best(c: Candidates, n: int) -> Candidates:
    """The ``n`` best of ``c`` by (score desc, tie-break desc, position asc)."""
    order = np.lexsort((c.positions, -c.tiebreak, -c.scores))[: max(0, int(n))]
    return Candidates(c.positions[order], c.ids[order], c.scores[order], c.tiebreak[order])


def merge(a: Candidates, b: Candidates, n: int) -> Candidates:
    if len(a) == 0:
        return best(b, n)
    ids = np.concatenate([a.ids.astype(object), b.ids.astype(object)]) if a.ids.dtype != b.ids.dtype \
        else np.concatenate([a.ids, b.ids])
    joined = Candidates(np.concatenate([a.positions, b.positions]), ids,
                        np.concatenate([a.scores, b.scores]), np.concatenate([a.tiebreak, b.tiebreak]))
    return best(joined, n)


def block_scores(strategy: QueryStrategy, probas: np.ndarray) -> np.ndarray:
    """The strategy's own ``score`` on one block's probabilities (row-wise, so blocks give the pool's scores)."""
    ctx = PoolContext(pool=range(probas.shape[0]), learner=None, rng=np.random.default_rng(0), pool_probas=probas)
    return np.asarray(strategy.score(ctx), dtype=np.float64)


def block_candidates(*, strategy: QueryStrategy, probas: np.ndarray, ids: np.ndarray, kept: np.ndarray,
                     offset: int, rng_state: dict[str, Any], n: int) -> Candidates:
    """One block's top ``n`` (rows not ``kept`` never compete; their tie-break draws are still skipped)."""
    positions = offset + np.flatnonzero(kept)
    tiebreak = tiebreak_stream(rng_state, offset, kept.shape[0])[kept]
    scores = block_scores(strategy, probas)
    return best(Candidates(positions.astype(np.int64), ids, scores, tiebreak), n)
