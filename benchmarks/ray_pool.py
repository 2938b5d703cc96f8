"""Pools outside Label Studio: ``labelsieve select`` engines on 1M+ items x 128-d clustered embeddings.

    .venv/bin/python benchmarks/ray_pool.py --n-items 1000000 --picks 1000 --repeats 3 [--dim 64 --dtype float16]

Writes the pool as Parquet (once, under --folder), then runs every (strategy, engine) in its own process:
``single`` (the whole pool loaded into one process, ``Margin().select`` on float32 rows / ``CoreSet().select`` on
the rows as stored, float16 when the Parquet column is FLOAT16), ``local``
(pyarrow one row group at a time; core-set shards in-process) and ``ray1`` / ``ray2`` (a local Ray cluster,
``ray.init(num_cpus=2)``, with 1 or 2 workers). Wall time excludes Ray start-up (reported apart); peak RSS is
the driver process's (``wait4``) and each Ray shard worker's own (``ru_maxrss``). Machine load is printed. Each run's
picks are hashed: the ``same picks`` column says whether every engine chose the same items in the same order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt_bytes, median, print_table, run_isolated  # noqa: E402

from labelsieve.learners.vector import VectorLearner  # noqa: E402
from labelsieve.pool.engine import LocalEngine  # noqa: E402
from labelsieve.pool.model import bundle_learner  # noqa: E402
from labelsieve.pool.select import SelectRequest, select  # noqa: E402
from labelsieve.pool.source import PoolSource, embedding_matrix, open_pool, read_unit, stored_dtype  # noqa: E402
from labelsieve.pool.synthetic import write_clustered_pool  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402
from labelsieve.strategies.coreset import CoreSet  # noqa: E402
from labelsieve.strategies.uncertainty import Margin  # noqa: E402

ENGINES = ("single", "local", "ray1", "ray2")


def labelled_rows(folder: Path, dim: int) -> tuple[np.ndarray, list[str]]:
    """The first 2000 rows with their cluster as the label (the model for margin; centres for core-set)."""
    table = pq.ParquetFile(open_pool(folder).paths[0]).read_row_group(0, columns=["embedding", "cluster"])
    return embedding_matrix(table, dim)[:2000], [f"c{c % 5}" for c in table.column("cluster").to_pylist()[:2000]]


def stored_matrix(source: PoolSource, dim: int) -> np.ndarray:
    """The whole pool in one preallocated matrix of the stored dtype, filled one row group at a time."""
    vectors: np.ndarray | None = None
    for unit in source.units:
        table = read_unit(unit, ["embedding"])
        rows = embedding_matrix(table, dim, stored_dtype(table))
        if vectors is None:
            vectors = np.empty((source.n_rows, dim), dtype=rows.dtype)
        vectors[unit.offset:unit.offset + unit.rows] = rows
    assert vectors is not None
    return vectors


def digest(ids: list) -> str:
    return hashlib.sha1(",".join(str(int(i)) for i in ids).encode()).hexdigest()[:12]


def child(folder: Path, engine: str, strategy: str, picks: int, dim: int) -> dict:
    source = open_pool(folder)
    x_lab, y_lab = labelled_rows(folder, dim)
    learner = VectorLearner().fit(x_lab, y_lab)
    n = picks if strategy == "coreset" else 1000
    request = SelectRequest(strategy, n, seed=0, model=bundle_learner("vector", learner),
                            labeled=x_lab if strategy == "coreset" else None)
    out: dict = {"workers_rss": []}
    if engine == "single":
        started = time.perf_counter()
        if strategy == "margin":  # the learner predicts on float32 rows
            tables = [pq.read_table(p, columns=["embedding"]) for p in source.paths]
            vectors = np.vstack([embedding_matrix(t, dim) for t in tables])
            del tables
        else:  # core-set holds the rows as stored (float16: no float32 copy), unit by unit into one matrix
            vectors = stored_matrix(source, dim)
        out["load_s"] = time.perf_counter() - started
        rng = np.random.default_rng(0)
        if strategy == "margin":
            chosen = Margin().select(PoolContext(pool=vectors, learner=learner, rng=rng), n)
        else:
            context = PoolContext(pool=vectors, learner=None, rng=rng, pool_embeddings=vectors,
                                  labeled_embeddings_given=x_lab)
            chosen = CoreSet(device="cpu").select(context, n)
        out["seconds"] = time.perf_counter() - started
        out["picks"] = digest(list(chosen))  # ids are the positions 0..n-1
        return out
    if engine == "local":
        started = time.perf_counter()
        out["picks"] = digest(select(source, request, LocalEngine()).ids)
        out["seconds"] = time.perf_counter() - started
        return out
    import ray  # optional extra, only for the ray rows

    from labelsieve.pool.ray_engine import RayEngine

    workers = int(engine[-1])
    started = time.perf_counter()
    ray.init(num_cpus=2, object_store_memory=300 * 2**20, include_dashboard=False, log_to_driver=False)
    out["ray_start_s"] = time.perf_counter() - started
    ray_engine = RayEngine(workers=workers, run_name="bench")
    started = time.perf_counter()
    if strategy == "margin":
        out["picks"] = digest(select(source, request, ray_engine).ids)
    else:
        seen: list[int] = []

        def on_pick(step: int) -> None:
            if step == min(n, 1000) - 1:  # just before the shards go: their peak RSS
                actors = [ray.get_actor(f"bench-shard-{i}") for i in range(workers)]
                seen.extend(ray.get([a.peak_rss_bytes.remote() for a in actors]))

        out["picks"] = digest(select(source, request, ray_engine, on_pick=on_pick).ids)
        out["workers_rss"] = seen
    out["seconds"] = time.perf_counter() - started
    ray.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/labelsieve-ray-pool"))
    parser.add_argument("--n-items", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--picks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategies", default="margin,coreset")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="how the embeddings are stored in Parquet (read as float32)")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "STRATEGY", "PICKS"))
    args = parser.parse_args()
    dim = args.dim
    folder = args.folder / (f"n{args.n_items}" if (dim, args.dtype) == (128, "float32")
                            else f"n{args.n_items}-d{dim}-{args.dtype}")
    if args.child:
        engine, strategy, picks = args.child
        print(json.dumps(child(folder, engine, strategy, int(picks), dim)))
        return
    if not (folder / "_done").exists():
        started = time.perf_counter()
        write_clustered_pool(folder, n=args.n_items, dim=dim, files=args.files, seed=0, clusters=50,
                             row_group=16_384, with_cluster=True, dtype=np.dtype(args.dtype).type)
        (folder / "_done").write_text("ok")
        print(f"wrote {args.n_items} x {dim} in {time.perf_counter() - started:.0f} s")
    size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    print(f"pool: {args.n_items} items x {dim} {args.dtype} ({fmt_bytes(args.n_items * dim * 4)} in memory as float32, "
          f"{fmt_bytes(size)} Parquet); load average before: {os.getloadavg()}")
    rows = []
    picks_of: dict[str, set[str]] = {}
    for strategy in args.strategies.split(","):
        for engine in args.engines.split(","):
            runs = [run_isolated([sys.executable, __file__, "--folder", str(args.folder), "--n-items",
                                  str(args.n_items), "--dim", str(dim), "--dtype", args.dtype,
                                  "--child", engine, strategy, str(args.picks)], args.timeout)
                    for _ in range(args.repeats)]
            good = [r for r in runs if r.status == "ok"]
            if not good:
                rows.append([strategy, engine, runs[0].status, "", "", "", "", "", runs[0].detail or ""])
                continue
            wall = median([r.seconds for r in good])
            extra = good[-1].payload or {}
            workers = ", ".join(fmt_bytes(b) for b in extra.get("workers_rss", [])) or "-"
            note = (f"ray start {extra['ray_start_s']:.1f} s" if "ray_start_s" in extra else
                    f"load {extra['load_s']:.1f} s" if "load_s" in extra else "")
            hashes = {r.payload.get("picks") for r in good if r.payload}
            picks_of.setdefault(strategy, set()).update(hashes)
            rows.append([strategy, engine, f"{wall:.1f}", f"{args.n_items / wall:,.0f}",
                         fmt_bytes(max(r.peak_rss for r in good)), workers, f"{len(good)}", ",".join(sorted(hashes)),
                         note])
            print(" | ".join(rows[-1]), flush=True)  # each row as it is measured (long runs)
    print_table(f"ray_pool: {args.n_items} items x {dim} {args.dtype}, core-set {args.picks} picks, margin top 1000 "
                f"(load average after: {os.getloadavg()})",
                ["strategy", "engine", "wall s (median)", "rows/s", "driver peak RSS", "shard worker peak RSS",
                 "runs", "picks (sha1)", "note"], rows)
    for strategy, hashes in picks_of.items():
        print(f"{strategy}: {'the same picks on every engine' if len(hashes) == 1 else 'PICKS DIFFER: ' + str(hashes)}")


if __name__ == "__main__":
    main()
