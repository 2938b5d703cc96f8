"""Where core-set's time goes, and what Ray adds per pick: the parts that decide whether Ray beats one process.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ray_overheads.py phases --folder POOL [--shards 1,2]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ray_overheads.py per-pick --folder SMALL_POOL [--picks 300]

``phases`` (in this process, ``LocalEngine``): loading the shards, the start (every row's distance to the labelled
centres: GEMM, no dependence between rows) and the picks (one reduction over every shard per pick), for 1 and 2
in-process shards. The start and the loading split across workers; the picks split too, but each costs one round
trip to every shard. ``per-pick`` times the same greedy loop on a small pool with in-process shards and with Ray
shard actors (1 and 2 workers, a local cluster started here), so the difference per pick is Ray's own cost: the
floor no number of cores removes. It also reports the pickled bytes and the time to pickle one pick's call.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt_bytes, print_table, self_rss  # noqa: E402

from labelsieve.pool.engine import LocalEngine, no_progress  # noqa: E402
from labelsieve.pool.greedy import distributed_coreset  # noqa: E402
from labelsieve.pool.shard import ShardSpec  # noqa: E402
from labelsieve.pool.source import embedding_matrix, open_pool  # noqa: E402

LABELLED = 2000


def labelled(folder: Path, dim: int) -> np.ndarray:
    table = pq.ParquetFile(open_pool(folder).paths[0]).read_row_group(0, columns=["embedding"])
    return embedding_matrix(table, dim)[:LABELLED]


def phases(folder: Path, shard_counts: list[int], picks: int) -> None:
    source = open_pool(folder)
    dim = int(source.dim or 0)
    centres = labelled(folder, dim)
    spec = ShardSpec(units=(), dim=dim, mode="coreset", prune=True)
    rows = []
    for count in shard_counts:
        engine = LocalEngine(n_shards=count)
        started = time.perf_counter()
        with engine.shards(source, spec, no_progress) as (shards, sizes):
            loaded = time.perf_counter()
            marks: list[float] = []
            distributed_coreset(shards, sizes, centres, picks, np.random.default_rng(0), prune=True,
                                on_pick=lambda _step, seen=marks: seen.append(time.perf_counter()))
            done = time.perf_counter()
            rss = self_rss()
        load_s, start_s = loaded - started, marks[0] - loaded  # the start, and the first pick's update with it
        picks_s = done - marks[0]
        rows.append([str(count), f"{source.n_rows:,}", f"{load_s:.1f}", f"{start_s:.1f}", f"{picks_s:.1f}",
                     f"{1000 * picks_s / max(1, picks - 1):.1f}", fmt_bytes(rss)])
        print(" | ".join(rows[-1]), flush=True)
    print_table(f"core-set phases, {picks} picks, {LABELLED} labelled centres (load average {os.getloadavg()})",
                ["in-process shards", "rows", "load s", "start s", "picks s", "ms per pick", "peak RSS so far"],
                rows)


def per_pick(folder: Path, picks: int, worker_counts: list[int]) -> None:
    import ray

    from labelsieve.pool.ray_engine import RayEngine

    source = open_pool(folder)
    dim = int(source.dim or 0)
    centres = labelled(folder, dim)
    spec = ShardSpec(units=(), dim=dim, mode="coreset", prune=False)
    rows = []

    def timed(engine: object, name: str) -> None:
        with engine.shards(source, spec, no_progress) as (shards, sizes):  # type: ignore[attr-defined]
            shards.call_all("coreset_start", [(centres, False)] * shards.size)  # warm: actors loaded and called
            started = time.perf_counter()
            distributed_coreset(shards, sizes, centres, picks, np.random.default_rng(0), prune=False)
            seconds = time.perf_counter() - started
        rows.append([name, str(len(sizes)), f"{source.n_rows:,}", f"{seconds:.2f}", f"{1000 * seconds / picks:.2f}"])
        print(" | ".join(rows[-1]), flush=True)

    for count in worker_counts:
        timed(LocalEngine(n_shards=count), "in-process")
    started = time.perf_counter()
    ray.init(num_cpus=max(worker_counts), object_store_memory=200 * 2**20, include_dashboard=False,
             log_to_driver=False)
    print(f"ray start {time.perf_counter() - started:.1f} s", flush=True)
    for count in worker_counts:
        timed(RayEngine(workers=count), "ray actors")
    actor = ray.remote(lambda: None)
    ray.get(actor.remote())
    started = time.perf_counter()
    for _ in range(200):
        ray.get(actor.remote())
    task_ms = 1000 * (time.perf_counter() - started) / 200
    ray.shutdown()
    best_centre = np.zeros(dim, np.float32)
    args = ("coreset_add", 5, best_centre, 1.0, -1)
    started = time.perf_counter()
    for _ in range(10_000):
        blob = pickle.dumps(args, protocol=5)
        pickle.loads(blob)
    pickle_us = 1e6 * (time.perf_counter() - started) / 10_000
    print_table(f"core-set greedy loop, {picks} picks, pool of {source.n_rows:,} (load average {os.getloadavg()})",
                ["shards", "count", "rows", "picks s", "ms per pick"], rows)
    print(f"one empty Ray task round trip: {task_ms:.2f} ms; one pick's call to a shard pickles to {len(blob)} bytes "
          f"in {pickle_us:.1f} us (there and back)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("phases", "per-pick"))
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--picks", type=int, default=300)
    parser.add_argument("--shards", default="1,2", help="shard / worker counts")
    args = parser.parse_args()
    counts = [int(c) for c in args.shards.split(",")]
    print(f"load average before: {os.getloadavg()}", flush=True)
    if args.what == "phases":
        phases(args.folder, counts, args.picks)
    else:
        per_pick(args.folder, args.picks, counts)


if __name__ == "__main__":
    main()
