"""Where the work runs. :class:`LocalEngine` is this process (pyarrow reads one unit at a time);
:mod:`labelsieve.pool.ray_engine` runs the same per-block and per-shard code on a Ray cluster.

Both offer two things: the global top-n of a per-row score (one pass, memory bounded by one unit per
worker) and a set of shards for the greedy strategies (memory: the pool divided by the number of shards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from labelsieve.devices import current_device, device_scope, resolve_device
from labelsieve.pool.greedy import ShardSet
from labelsieve.pool.model import ModelBundle, block_outputs, load_learner
from labelsieve.pool.shard import Shard, ShardSpec, load_shard
from labelsieve.pool.source import (
    EMBEDDING_COLUMN,
    ID_COLUMN,
    PoolSource,
    Unit,
    embedding_matrix,
    id_array,
    kept_mask,
    read_unit,
)
from labelsieve.pool.topn import Candidates, block_candidates, merge
from labelsieve.registry import get_registry

#: ``progress(description, total)`` returns ``advance(amount)``; the command shows rich progress bars
Progress = Callable[[str, int], Callable[[int], None]]


def no_progress(_description: str, _total: int) -> Callable[[int], None]:
    return lambda _amount: None


@dataclass(frozen=True)
class ScoreJob:
    """A per-row score to reduce to a global top ``n``: picklable, sent to every scoring worker once."""

    strategy: str
    model: ModelBundle
    dim: int
    exclude: pa.Array | None
    rng_state: dict[str, Any]
    n: int
    #: the torch device the learner scores on in each worker (:mod:`labelsieve.devices`; the Ray engine sets
    #: ``cuda`` for actors that reserve a GPU, ``cpu`` for the others); None: the device in scope where it runs
    device: str | None = None


class BlockScorer:
    """Scores units: the learner is loaded once (per process or per Ray actor) and applied block by block on the
    job's device (``device``: the torch device it resolved to in this worker)."""

    def __init__(self, job: ScoreJob) -> None:
        self.job = job
        self.device_name = job.device or current_device()
        self.device = str(resolve_device(self.device_name))
        self.learner = load_learner(job.model)
        self.strategy = get_registry("strategies").create(job.strategy)

    def unit(self, unit: Unit) -> Candidates:
        table = read_unit(unit, [ID_COLUMN, EMBEDDING_COLUMN])
        kept = kept_mask(table, self.job.exclude)
        with device_scope(self.device_name):  # a torch learner (image, auto_image) predicts on the worker's device
            probas, _ = block_outputs(self.learner, embedding_matrix(table, self.job.dim)[kept], probas=True,
                                      embed=False)
        return block_candidates(strategy=self.strategy, probas=probas, ids=id_array(table)[kept], kept=kept,
                                offset=unit.offset, rng_state=self.job.rng_state, n=self.job.n)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A Ray Data batch of unit descriptions in, their merged candidates out."""
        found = Candidates.empty()
        for path, group, offset, rows in zip(batch["path"], batch["row_group"], batch["offset"], batch["rows"],
                                             strict=True):
            found = merge(found, self.unit(Unit(str(path), int(group), int(offset), int(rows))), self.job.n)
        return {**found.as_batch(), "device": np.full(len(found), self.device)}


def split_units(units: Sequence[Unit], parts: int) -> list[tuple[Unit, ...]]:
    """``parts`` runs of consecutive units with about equal row counts (fewer when there are fewer units)."""
    parts = max(1, min(int(parts), len(units)))
    total = sum(u.rows for u in units)
    out: list[list[Unit]] = [[] for _ in range(parts)]
    seen = 0
    for unit in units:
        out[min(parts - 1, int(seen * parts // max(total, 1)))].append(unit)
        seen += unit.rows
    return [tuple(run) for run in out if run]


class Engine(Protocol):
    name: str

    def top_n(self, source: PoolSource, job: ScoreJob, progress: Progress) -> Candidates: ...

    def shards(self, source: PoolSource, spec: ShardSpec, progress: Progress
               ) -> Any: ...  # a context manager yielding (ShardSet, sizes)


class LocalShards:
    """Shards in this process (what the Ray actors hold, called directly)."""

    def __init__(self, shards: list[Shard]) -> None:
        self.items = shards

    @property
    def size(self) -> int:
        return len(self.items)

    def call(self, index: int, method: str, *args: Any) -> Any:
        return getattr(self.items[index], method)(*args)

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        return [self.call(i, method, *a) for i, a in enumerate(args)]


class LocalEngine:
    """One process: units read one at a time with pyarrow; ``n_shards`` in-process shards for the greedy loops."""

    name = "local"

    def __init__(self, n_shards: int = 1) -> None:
        self.n_shards = n_shards

    def top_n(self, source: PoolSource, job: ScoreJob, progress: Progress) -> Candidates:
        scorer = BlockScorer(job)
        advance = progress("scoring", source.n_rows)
        found = Candidates.empty()
        for unit in source.units:
            found = merge(found, scorer.unit(unit), job.n)
            advance(unit.rows)
        return found

    @contextmanager
    def shards(self, source: PoolSource, spec: ShardSpec, progress: Progress) -> Iterator[tuple[ShardSet, list[int]]]:
        advance = progress("loading shards", source.n_rows)
        loaded = []
        for units in split_units(source.units, self.n_shards):
            loaded.append(load_shard(replace(spec, units=units)))
            advance(sum(u.rows for u in units))
        yield LocalShards(loaded), [s.n for s in loaded]


class EngineUnavailable(RuntimeError):
    """The engine asked for is not installed (Ray is an optional extra)."""


RAY_MISSING = "--engine ray needs Ray, the optional extra of labelsieve: pip install 'labelsieve[ray]'"


def make_engine(name: str, *, address: str | None = None, workers: int | None = None, device: str = "auto") -> Any:
    """``local`` or ``ray``; Ray is imported here, only when asked for (documented optional-extra import).
    ``device`` (``auto``/``cpu``/``cuda[:n]``) is where the Ray workers score: with ``auto`` or ``cuda`` each
    worker of a cluster with GPUs reserves one and runs on it; ``cpu`` reserves none. The local engine runs in
    this process, on the device in scope (:mod:`labelsieve.devices`)."""
    if name == "local":
        return LocalEngine(n_shards=workers or 1)
    if name == "ray":
        try:
            import labelsieve.pool.ray_engine as ray_engine
        except ImportError as exc:
            raise EngineUnavailable(f"{RAY_MISSING} ({exc})") from None
        return ray_engine.RayEngine(address=address, workers=workers, device=device)
    raise ValueError(f"unknown engine {name!r}; use 'local' or 'ray'")
