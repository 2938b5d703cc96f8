"""The driver side of distributed core-set and BADGE: one global reduction per pick over every shard.

Core-set (:func:`labelsieve.strategies.distance.kcenter_greedy`): each shard lowers its ``min_dist``
with the last centre and answers its own arg-max; the driver takes the largest value, ties to the
first shard (shards are in position order and each answers its first maximum, so ties go to the
lowest index, as in the single-process loop). BADGE (:func:`labelsieve.strategies.badge.badge_kmeanspp`):
each shard lowers its ``d2``; the float64 running sum is continued shard after shard from the previous
shard's total (the same additions in the same order as one ``cumsum``), the driver draws the target
with the same ``rng`` call, and the shard whose range holds it finds the index. Bytes moved per pick:
one centre (``d`` floats) to every shard and one candidate back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from labelsieve.pool.shard import STALE, Best

History = list[tuple[np.ndarray, np.ndarray | None, float, int, int]]


class ShardSet(Protocol):
    """Shards wherever they live: in this process or in Ray actors."""

    @property
    def size(self) -> int: ...

    def call(self, index: int, method: str, *args: Any) -> Any: ...

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]: ...


class Picks:
    """Picks in order: global index into the kept pool, position in the files, id, and the value at the pick."""

    def __init__(self) -> None:
        self.indices: list[int] = []
        self.positions: list[int] = []
        self.ids: list[Any] = []
        self.values: list[float] = []

    def add(self, index: int, best: Best, value: float) -> None:
        self.indices.append(index)
        self.positions.append(best.position)
        self.ids.append(best.id)
        self.values.append(value)


class Reducer:
    """Runs calls on shards, replaying the picks into any shard that was rebuilt after its worker died."""

    def __init__(self, shards: ShardSet, kind: str, start: tuple[Any, ...]) -> None:
        self.shards = shards
        self.kind = kind
        self.start = start
        self.history: History = []
        self.replays = 0

    def _fix(self, index: int, result: Any, method: str, args: tuple[Any, ...]) -> Any:
        while isinstance(result, str) and result == STALE:
            self.replays += 1
            self.shards.call(index, "replay", self.kind, self.start, self.history, index)
            result = self.shards.call(index, method, *args)
        return result

    def one(self, index: int, method: str, *args: Any) -> Any:
        return self._fix(index, self.shards.call(index, method, *args), method, args)

    def all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        results = self.shards.call_all(method, args)
        return [self._fix(i, r, method, args[i]) for i, r in enumerate(results)]


def _offsets(sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _locate(offsets: np.ndarray, index: int) -> tuple[int, int]:
    shard = int(np.searchsorted(offsets, index, side="right") - 1)
    return shard, index - int(offsets[shard])


def distributed_coreset(shards: ShardSet, sizes: Sequence[int], labeled: np.ndarray, n: int,
                        rng: np.random.Generator, *, prune: bool, on_pick: Callable[[int], None] | None = None
                        ) -> Picks:
    """Greedy k-center over all shards; the same picks as :meth:`labelsieve.strategies.coreset.CoreSet.select`."""
    offsets, total = _offsets(sizes), int(sum(sizes))
    picks = Picks()
    if n <= 0 or total == 0:
        return picks
    reducer = Reducer(shards, "coreset", (labeled, prune))
    bests: list[Best] = reducer.all("coreset_start", [(labeled, prune)] * shards.size)
    first = None if labeled.shape[0] else int(rng.integers(total))
    for step in range(min(n, total)):
        if step == 0 and first is not None:
            owner, local = _locate(offsets, first)
            chosen = reducer.one(owner, "centre_at", step, local)
            value = float("inf")
        else:
            owner = max(range(shards.size), key=lambda s: (bests[s].value, -s))
            chosen, value = bests[owner], bests[owner].value
            if value == float("-inf"):
                break
        picks.add(int(offsets[owner]) + chosen.local, chosen, value)
        args = [(step, chosen.centre, chosen.centre_sq, chosen.local if s == owner else -1) for s in range(shards.size)]
        bests = reducer.all("coreset_add", args)  # a rebuilt shard replays the picks before this one, then adds it
        reducer.history.append((chosen.centre, None, chosen.centre_sq, owner, chosen.local))
        if on_pick is not None:
            on_pick(step + 1)
    return picks


def distributed_badge(shards: ShardSet, sizes: Sequence[int], n: int, rng: np.random.Generator,
                      on_pick: Callable[[int], None] | None = None) -> Picks:
    """k-means++ on gradient embeddings over all shards; the same picks as ``Badge().select``."""
    offsets, total = _offsets(sizes), int(sum(sizes))
    picks = Picks()
    if n <= 0 or total == 0:
        return picks
    reducer = Reducer(shards, "badge", ())
    starts: list[Best] = reducer.all("badge_start", [()] * shards.size)
    for step in range(min(n, total)):
        if step == 0:
            owner = max(range(shards.size), key=lambda s: (starts[s].value, -s))
            value = starts[owner].value
            index = int(offsets[owner]) + starts[owner].local
            if not value > 0.0:
                index = int(rng.integers(total))
        else:
            index, value = _badge_draw(reducer, offsets, total, step, rng)
        owner, local = _locate(offsets, index)
        centre: Best = reducer.one(owner, "centre_at", step, local)
        picks.add(index, centre, value)
        args = [(step, centre.centre, centre.extra, centre.centre_sq, local if s == owner else -1)
                for s in range(shards.size)]
        reducer.all("badge_add", args)
        reducer.history.append((centre.centre, centre.extra, centre.centre_sq, owner, local))
        if on_pick is not None:
            on_pick(step + 1)
    return picks


def _badge_draw(reducer: Reducer, offsets: np.ndarray, total: int, step: int, rng: np.random.Generator
                ) -> tuple[int, float]:
    """:func:`labelsieve.strategies.badge.draw_proportional` over the shards (and its uniform fallback)."""
    size = reducer.shards.size
    ends: list[float] = []
    carry = 0.0
    for s in range(size):
        carry = reducer.one(s, "badge_scan", step, carry)
        ends.append(carry)
    if not carry > 0.0:  # every remaining item coincides with a centre: uniform among the rest
        counts = [int(c) for c in reducer.all("unpicked", [(step,)] * size)]
        rank = int(rng.integers(sum(counts)))
        for s, count in enumerate(counts):
            if rank < count:
                return int(offsets[s]) + int(reducer.one(s, "unpicked", step, rank)), 0.0
            rank -= count
    target = rng.random() * carry
    for s in range(size):
        if offsets[s + 1] > offsets[s] and ends[s] > target:
            return int(offsets[s]) + int(reducer.one(s, "badge_locate", step, target)), target
    last = max(s for s in range(size) if offsets[s + 1] > offsets[s])
    return int(offsets[last + 1]) - 1, target
