"""Choose the next ``n`` items of a pool: uncertainty top-n, core-set or BADGE, on any engine.

The picks equal the single-process strategies' on the same pool, labelled set and seed:
``Margin/Entropy/LeastConfidence().select``, ``CoreSet().select`` and ``Badge().select`` with
``ctx.rng = np.random.default_rng(seed)`` and the pool in position order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from labelsieve.pool.engine import Engine, Progress, ScoreJob, no_progress
from labelsieve.pool.greedy import Picks, distributed_badge, distributed_coreset
from labelsieve.pool.model import ModelBundle
from labelsieve.pool.shard import ShardSpec
from labelsieve.pool.source import PoolError, PoolSource
from labelsieve.pool.topn import UNCERTAINTY
from labelsieve.strategies.kcenter_bounds import MIN_PICKS, MIN_ROWS

GREEDY = ("coreset", "badge")
STRATEGIES = UNCERTAINTY + GREEDY


class SelectionError(ValueError):
    """The selection cannot run as asked (strategy unknown here, no model yet, no embeddings...)."""


@dataclass(frozen=True)
class SelectRequest:
    strategy: str
    n: int
    seed: int = 0
    model: ModelBundle | None = None
    #: core-set centres: embeddings of the labelled items (and of items already sent to Label Studio)
    labeled: np.ndarray | None = None
    exclude: pa.Array | None = None
    prune: bool = True
    chunk_size: int = 65_536


@dataclass(frozen=True)
class Selection:
    """Chosen items in pick order; ``scores``: the strategy's score (uncertainty) or the pick's distance."""

    strategy: str
    ids: list[Any]
    positions: list[int]
    scores: list[float]
    details: dict[str, Any] = field(default_factory=dict)


def check_request(source: PoolSource, request: SelectRequest) -> None:
    if request.strategy not in STRATEGIES:
        raise SelectionError(f"strategy {request.strategy!r} does not run on pools; use one of {', '.join(STRATEGIES)}")
    if request.n <= 0:
        raise SelectionError(f"n must be positive, got {request.n}")
    if not source.has_embeddings:
        raise PoolError("this pool has no 'embedding' column; pools need a list-of-floats embedding per item")
    if request.strategy != "coreset" and request.model is None:
        raise SelectionError(f"{request.strategy} needs a trained model: label some items first "
                             "(--label-studio-project with annotations) or start with --strategy coreset")


def select(source: PoolSource, request: SelectRequest, engine: Engine, *, progress: Progress = no_progress,
           on_pick: Callable[[int], None] | None = None) -> Selection:
    """Run the request on ``engine``; ``on_pick(step)`` is called after every greedy pick (test hook)."""
    check_request(source, request)
    rng = np.random.default_rng(request.seed)
    if request.strategy in UNCERTAINTY:
        assert request.model is not None
        job = ScoreJob(strategy=request.strategy, model=request.model, dim=int(source.dim or 0),
                       exclude=request.exclude, rng_state=rng.bit_generator.state, n=request.n)
        found = engine.top_n(source, job, progress)
        return Selection(request.strategy, [_plain(i) for i in found.ids], [int(p) for p in found.positions],
                         [float(s) for s in found.scores])
    spec = ShardSpec(units=(), dim=int(source.dim or 0), mode=request.strategy, model=request.model,
                     exclude=request.exclude, chunk_size=request.chunk_size, prune=request.prune)
    with engine.shards(source, spec, progress) as (shards, sizes):
        total = sum(sizes)
        advance = progress(f"{request.strategy} picks", min(request.n, total))

        def step(done: int) -> None:
            advance(1)
            if on_pick is not None:
                on_pick(done)

        if request.strategy == "coreset":
            labeled = np.zeros((0, int(source.dim or 0)), np.float32) if request.labeled is None else request.labeled
            worth = request.prune and total >= MIN_ROWS and request.n >= MIN_PICKS  # as CoreSet.select decides
            picks = distributed_coreset(shards, sizes, np.asarray(labeled, np.float32), request.n, rng,
                                        prune=worth, on_pick=step)
        else:
            picks = distributed_badge(shards, sizes, request.n, rng, on_pick=step)
    return _from_picks(request.strategy, picks)


def _from_picks(strategy: str, picks: Picks) -> Selection:
    distances = [math.sqrt(v) if v >= 0 else float("nan") for v in picks.values]
    return Selection(strategy, [_plain(i) for i in picks.ids], list(picks.positions), distances,
                     {"indices": list(picks.indices)})


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
