"""Synthetic pools for tests and benchmarks: clustered embeddings written file by file (never all in memory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def clustered_block(rng: np.random.Generator, centres: np.ndarray, rows: int, spread: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` points around random ``centres``: (float32 embeddings, cluster index per row)."""
    cluster = rng.integers(0, centres.shape[0], rows)
    points = centres[cluster] + spread * rng.standard_normal((rows, centres.shape[1]))
    return points.astype(np.float32), cluster


def embedding_table(ids: np.ndarray, vectors: np.ndarray, dtype: type = np.float32, **extra: np.ndarray) -> pa.Table:
    """``id`` and a fixed-size-list ``embedding`` column of ``dtype`` (``np.float16``: Parquet's FLOAT16)."""
    flat = pa.array(np.ascontiguousarray(vectors, dtype=dtype).reshape(-1))
    column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    return pa.table({"id": pa.array(ids), "embedding": column, **{k: pa.array(v) for k, v in extra.items()}})


def write_clustered_pool(folder: Path, *, n: int, dim: int, files: int, seed: int = 0, clusters: int = 20,
                         spread: float = 1.0, row_group: int = 8192, with_cluster: bool = False,
                         dtype: type = np.float32) -> list[Path]:
    """``n`` items (ids ``0..n-1``) in ``files`` Parquet files of ``row_group``-row groups under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.standard_normal((clusters, dim))
    bounds = np.linspace(0, n, files + 1).astype(np.int64)
    written = []
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        path = folder / f"part-{index:05d}.parquet"
        writer = None
        for lo in range(int(start), int(stop), row_group):
            hi = min(int(stop), lo + row_group)
            vectors, cluster = clustered_block(rng, centres, hi - lo, spread)
            extra = {"cluster": cluster.astype(np.int64)} if with_cluster else {}
            table = embedding_table(np.arange(lo, hi, dtype=np.int64), vectors, dtype, **extra)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group)
        if writer is not None:
            writer.close()
            written.append(path)
    return written
