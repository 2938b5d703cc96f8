"""The Ray engine: Ray Data ``map_batches`` over an actor pool for scoring, Ray actors for the shards.

Imported only when ``--engine ray`` is asked for (Ray is the optional extra ``labelsieve[ray]``).
Scoring: the unit list is a Ray Data dataset; each scoring actor loads the learner once, reads its units
one at a time (memory: one row group) and returns its top ``n``; the driver merges. Fault tolerance:
actors restart (``max_restarts``) and their calls are retried (``max_task_retries``); a rebuilt shard
reloads its units from the files and the driver replays the picks made so far into it, so the result of
a run is the same whether or not a worker died.

Device: with ``device`` ``auto`` or ``cuda[:n]`` and GPUs in the cluster, every scoring actor reserves one GPU
and its learner predicts on it (``ScoreJob.device = "cuda"``: inside an actor Ray makes its reserved GPU the only
visible one), and the core-set shards keep their distance kernels on it; ``cpu`` (or a cluster without GPUs)
reserves none and runs on the CPU. ``devices_`` lists the devices the scoring actors of the last run reported.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import ray
import ray.data

from labelsieve.devices import check_device
from labelsieve.pool.engine import BlockScorer, Progress, ScoreJob, split_units
from labelsieve.pool.greedy import ShardSet
from labelsieve.pool.shard import ShardSpec, load_shard
from labelsieve.pool.source import PoolSource
from labelsieve.pool.topn import Candidates, merge

MAX_RESTARTS = 4
MAX_TASK_RETRIES = 4


@ray.remote
class ShardActor:
    """One shard in a Ray worker process (rebuilt from its spec when the process is restarted)."""

    def __init__(self, spec: ShardSpec) -> None:
        self.shard = load_shard(spec)

    def pid(self) -> int:
        return os.getpid()

    def size(self) -> int:
        return self.shard.n

    def peak_rss_bytes(self) -> int:
        """This worker process's peak resident memory (Linux ``ru_maxrss`` is in KiB)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.shard, method)(*args)


class RayShards:
    def __init__(self, actors: list[Any]) -> None:
        self.actors = actors

    @property
    def size(self) -> int:
        return len(self.actors)

    def call(self, index: int, method: str, *args: Any) -> Any:
        return ray.get(self.actors[index].call.remote(method, *args))

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        return ray.get([actor.call.remote(method, *a) for actor, a in zip(self.actors, args, strict=True)])

    def peak_rss_bytes(self) -> list[int]:
        return ray.get([actor.peak_rss_bytes.remote() for actor in self.actors])


def gpus_per_worker(device: str = "auto") -> float:
    """One GPU per worker when the cluster has GPUs and ``device`` is not ``cpu``, else none; ``cuda`` asked for on
    a cluster without a GPU: ValueError."""
    has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
    if check_device(device).startswith("cuda") and not has_gpu:
        raise ValueError(f"device {device!r} asked for, but the Ray cluster has no GPU")
    return 1.0 if has_gpu and device != "cpu" else 0.0


def worker_device(gpus: float) -> str:
    """The device a worker that reserved ``gpus`` GPUs runs on: its reserved GPU (the only one it sees), else the
    CPU."""
    return "cuda" if gpus > 0 else "cpu"


class RayEngine:
    """Runs on the Ray cluster at ``address`` (``None``: the cluster ``ray.init`` finds or starts)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, cpus_per_worker: float = 1.0,
                 run_name: str | None = None, device: str = "auto") -> None:
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.run_name = run_name
        self.device = device  # shard actors are named ``{run_name}-shard-{i}`` (for ``ray.get_actor``)

    def connect(self) -> None:
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, include_dashboard=False)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the command draws its own
        context.execution_options.preserve_order = False

    def worker_count(self) -> int:
        if self.workers is not None:
            return max(1, int(self.workers))
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_worker))

    def _name(self, index: int) -> dict[str, str]:
        return {} if self.run_name is None else {"name": f"{self.run_name}-shard-{index}"}

    def top_n(self, source: PoolSource, job: ScoreJob, progress: Progress) -> Candidates:
        self.connect()
        workers = self.worker_count()
        units = [{"path": u.path, "row_group": u.row_group, "offset": u.offset, "rows": u.rows} for u in source.units]
        advance = progress("scoring blocks", len(units))
        dataset = ray.data.from_items(units, override_num_blocks=max(1, min(len(units), 4 * workers)))
        gpus = gpus_per_worker(self.device)
        # Ray Data restarts dead map actors and retries their batches (max_restarts / max_task_retries = -1)
        scored = dataset.map_batches(
            BlockScorer, fn_constructor_args=(replace(job, device=worker_device(gpus)),), batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers), batch_format="numpy", num_cpus=self.cpus_per_worker,
            num_gpus=gpus,
        )
        found = Candidates.empty()
        devices: set[str] = set()
        for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
            found = merge(found, Candidates.from_batch(batch), job.n)
            devices.update(str(d) for d in batch["device"])
            advance(1)
        self.devices_ = sorted(devices)
        return found

    @contextmanager
    def shards(self, source: PoolSource, spec: ShardSpec, progress: Progress) -> Iterator[tuple[ShardSet, list[int]]]:
        self.connect()
        runs = split_units(source.units, self.worker_count())
        options = {"num_cpus": self.cpus_per_worker, "num_gpus": gpus_per_worker(self.device),
                   "max_restarts": MAX_RESTARTS,
                   "max_task_retries": MAX_TASK_RETRIES, "scheduling_strategy": "SPREAD"}
        gpu = options["num_gpus"] > 0 and spec.mode == "coreset"  # BADGE's D^2 update runs on host arrays
        options["num_gpus"] = options["num_gpus"] if gpu else 0.0
        actors = [ShardActor.options(**options, **self._name(i)).remote(
            replace(spec, units=units, device=worker_device(options["num_gpus"]))) for i, units in enumerate(runs)]
        try:
            advance = progress("loading shards", source.n_rows)
            sizes = []
            for actor, units in zip(actors, runs, strict=True):
                sizes.append(int(ray.get(actor.size.remote())))
                advance(sum(u.rows for u in units))
            yield RayShards(actors), sizes
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)
