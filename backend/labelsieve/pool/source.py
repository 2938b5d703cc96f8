"""A pool of items listed in Parquet files: one row per item, read one row group (a *unit*) at a time.

Items have a global *position*: files in sorted path order, then rows in file order. Positions are what
the strategies' tie-breaks and the single-process equivalence are defined on; ids are what users see.
Only Parquet footers are read to plan the work (row counts per row group), never the data itself.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ID_COLUMN = "id"
EMBEDDING_COLUMN = "embedding"


class PoolError(ValueError):
    """The pool cannot be read as asked (no files, missing column, ragged embeddings...)."""


@dataclass(frozen=True)
class Unit:
    """One row group of one file: the smallest piece of work, read whole by one worker."""

    path: str
    row_group: int
    offset: int  # global position of its first row
    rows: int


@dataclass(frozen=True)
class PoolSource:
    """The files of a pool and their units (from the Parquet footers)."""

    paths: tuple[str, ...]
    units: tuple[Unit, ...]
    columns: tuple[str, ...]
    dim: int | None  # embedding width, when the pool has an embedding column

    @property
    def n_rows(self) -> int:
        return sum(u.rows for u in self.units)

    @property
    def has_embeddings(self) -> bool:
        return self.dim is not None


def pool_files(location: str | Path) -> list[str]:
    """A Parquet file, a folder of them (recursively) or a glob, as sorted absolute paths."""
    path = Path(location)
    if path.is_file():
        return [str(path.resolve())]
    if path.is_dir():
        files = sorted(str(p.resolve()) for p in path.rglob("*.parquet"))
    else:
        matches = glob.glob(str(location), recursive=True)
        files = sorted(str(Path(p).resolve()) for p in matches if p.endswith(".parquet"))
    if not files:
        raise PoolError(f"no Parquet files at {location!s} (give a .parquet file, a folder or a glob)")
    return files


def open_pool(location: str | Path) -> PoolSource:
    """Plan a pool: list files, check they share ``id`` (and ``embedding``) columns, count rows per row group."""
    paths = pool_files(location)
    units: list[Unit] = []
    offset, columns, dim = 0, None, None
    for path in paths:
        meta = pq.ParquetFile(path)
        schema = meta.schema_arrow
        names = tuple(schema.names)
        if ID_COLUMN not in names:
            raise PoolError(f"{path} has no {ID_COLUMN!r} column (columns: {', '.join(names)})")
        if columns is None:
            columns = names
            if EMBEDDING_COLUMN in names:
                dim = embedding_width(schema.field(EMBEDDING_COLUMN).type, meta, path)
        elif set(names) != set(columns):
            raise PoolError(f"{path} has columns {sorted(names)}, the first file {sorted(columns)}")
        for group in range(meta.num_row_groups):
            rows = meta.metadata.row_group(group).num_rows
            if rows:
                units.append(Unit(path=path, row_group=group, offset=offset, rows=rows))
                offset += rows
    return PoolSource(paths=tuple(paths), units=tuple(units), columns=columns or (), dim=dim)


def embedding_width(kind: pa.DataType, meta: pq.ParquetFile, path: str) -> int:
    if pa.types.is_fixed_size_list(kind):
        return int(kind.list_size)
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        raise PoolError(f"{path}: {EMBEDDING_COLUMN!r} must be a list of floats, not {kind}")
    if meta.num_row_groups == 0 or meta.metadata.num_rows == 0:
        return 0
    first = meta.read_row_group(0, columns=[EMBEDDING_COLUMN]).column(0)
    return len(first[0].as_py())


def read_unit(unit: Unit, columns: Sequence[str]) -> pa.Table:
    return pq.ParquetFile(unit.path).read_row_group(unit.row_group, columns=list(columns))


def embedding_matrix(table: pa.Table, dim: int, dtype: type = np.float32) -> np.ndarray:
    """The ``embedding`` column as a C-contiguous ``(rows, dim)`` matrix of ``dtype`` (no per-row Python objects)."""
    column = table.column(EMBEDDING_COLUMN).combine_chunks()
    values = column.flatten() if not pa.types.is_fixed_size_list(column.type) else column.values
    flat = np.asarray(values.to_numpy(zero_copy_only=False), dtype=dtype)
    if flat.shape[0] != table.num_rows * dim:
        raise PoolError(f"embeddings must all have {dim} values; a block of {table.num_rows} rows has {flat.shape[0]}")
    return flat.reshape(table.num_rows, dim)


def stored_dtype(table: pa.Table) -> type:
    """float16 when the embeddings are stored as Parquet FLOAT16 (every such value is exactly a float32), else
    float32: the narrowest dtype that holds the float32 values the strategies compute on."""
    kind = table.schema.field(EMBEDDING_COLUMN).type
    return np.float16 if pa.types.is_float16(getattr(kind, "value_type", kind)) else np.float32


def id_array(table: pa.Table) -> np.ndarray:
    column = table.column(ID_COLUMN).combine_chunks()
    if pa.types.is_integer(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.asarray(column.cast(pa.string()).to_pylist(), dtype=object)


def kept_mask(table: pa.Table, exclude: pa.Array | None) -> np.ndarray:
    """Rows whose id is not in ``exclude`` (already imported into Label Studio)."""
    if exclude is None or len(exclude) == 0:
        return np.ones(table.num_rows, dtype=bool)
    ids = table.column(ID_COLUMN)
    values = exclude
    if pa.types.is_integer(ids.type) != pa.types.is_integer(exclude.type):  # compare as text
        ids, values = ids.cast(pa.string()), exclude.cast(pa.string())
    elif pa.types.is_integer(ids.type):
        ids = ids.cast(pa.int64())
    return ~np.asarray(pc.is_in(ids, value_set=values).to_numpy(zero_copy_only=False), dtype=bool)


def exclusion(ids: Sequence[int | str]) -> pa.Array | None:
    """Ids to leave out, as one Arrow array (ints when every id is an int, else strings)."""
    if not ids:
        return None
    if all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in ids):
        return pa.array([int(i) for i in ids], type=pa.int64())
    return pa.array([str(i) for i in ids], type=pa.string())


def fetch_rows(source: PoolSource, positions: Sequence[int], columns: Sequence[str]) -> pa.Table:
    """The rows at ``positions`` (in that order), reading only the units that hold them."""
    wanted = np.asarray(positions, dtype=np.int64)
    starts = np.array([u.offset for u in source.units], dtype=np.int64)
    owner = np.searchsorted(starts, wanted, side="right") - 1
    parts: list[pa.Table] = []
    order: list[np.ndarray] = []
    for unit_index in np.unique(owner):
        unit = source.units[int(unit_index)]
        picked = np.flatnonzero(owner == unit_index)
        parts.append(read_unit(unit, columns).take(pa.array(wanted[picked] - unit.offset)))
        order.append(picked)
    if not parts:
        return pa.table({name: pa.array([]) for name in columns})
    table = pa.concat_tables(parts)
    return table.take(pa.array(np.argsort(np.concatenate(order), kind="stable")))
