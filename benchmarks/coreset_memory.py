"""Core-set's memory, phase by phase, in one process: RSS now and peak after each step of one shard's start.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/coreset_memory.py /tmp/labelsieve-ray-pool/n1000000-d64-float16

Loads the whole pool as one shard (``load_shard``, what the local engine and every Ray shard actor do), computes
every row's distance to the first 2 000 rows (the labelled centres of ``benchmarks/ray_pool.py``), then builds the
pruning groups. Peak RSS is ``ru_maxrss``; RSS now is ``/proc/self/statm``.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import pyarrow.parquet as pq

from labelsieve.pool.shard import ShardSpec, load_shard
from labelsieve.pool.source import embedding_matrix, open_pool
from labelsieve.strategies.kcenter_bounds import BoundedPool


def rss_gib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(folder: str) -> None:
    source = open_pool(folder)
    dim = int(source.dim or 0)
    centres = embedding_matrix(pq.ParquetFile(source.paths[0]).read_row_group(0, columns=["embedding"]), dim)[:2000]
    print(f"load average {os.getloadavg()}")
    print(f"start: RSS {rss_gib():.2f} GiB, peak {peak_gib():.2f} GiB")
    started = time.perf_counter()
    shard = load_shard(ShardSpec(units=source.units, dim=dim, mode="coreset"))
    print(f"loaded {shard.n} rows held as {shard.pool.x.dtype}: RSS {rss_gib():.2f}, peak {peak_gib():.2f} GiB, "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    shard.state = shard.pool.min_sqdist_to(centres)
    print(f"distances to {centres.shape[0]} centres: RSS {rss_gib():.2f}, peak {peak_gib():.2f} GiB, "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    groups = BoundedPool(shard.pool)
    groups.refresh(shard.state)
    print(f"pruning groups: RSS {rss_gib():.2f}, peak {peak_gib():.2f} GiB, {time.perf_counter() - started:.1f} s")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main(sys.argv[1])
