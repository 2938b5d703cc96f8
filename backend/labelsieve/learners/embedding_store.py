"""Sentence embeddings on disk, so a restart (or the next round) never encodes a text twice.

One folder per model (:func:`model_key`) under ``<data_dir>/embeddings/``. Vectors are float16 rows keyed by
the 16-byte blake2b digest of the text, in append-only *segment* files, each written whole to a temporary file
and renamed into place, so a segment is complete or absent. Layout of ``seg-<n>.bin``::

    magic b"LSEMB\\x01\\x00\\x00" | dim uint32 | rows uint32 | rows x 16-byte keys | rows x dim float16 | crc32 uint32

The CRC covers everything before it. A segment whose size, header or CRC does not check out (torn by a crash,
damaged on disk) is skipped with a warning: its texts are encoded again, never served wrong. Segments are read
lazily (on first use) and their vectors memory-mapped. The store holds at most ``max_rows`` vectors; beyond
that, :meth:`EmbeddingStore.put` keeps nothing more (the memory cache in front still serves them). Once a store
has more than ``max_segments`` segments (a pool encoded in the background writes one per batch), :meth:`put`
compacts them into one: the merged segment is written whole before the old files are deleted, so a crash in
between leaves duplicates (the same vectors), never a gap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"LSEMB\x01\x00\x00"
HEADER = struct.Struct("<8sII")
KEY_BYTES = 16
CRC = struct.Struct("<I")


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=KEY_BYTES).digest()


def model_key(model: str) -> str:
    """A folder name for a model: its path's last two parts and a digest of its config files and file sizes
    (the same model installed elsewhere shares the folder; a different model with the same name does not)."""
    path = Path(model)
    digest = hashlib.blake2b(digest_size=6)
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file():
                digest.update(f"{child.relative_to(path).as_posix()}:{child.stat().st_size};".encode())
                if child.suffix == ".json" and child.stat().st_size < 1_000_000:
                    digest.update(child.read_bytes())
    else:
        digest.update(model.encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(path.parts[-2:]) or "model")[-80:]
    return f"{name}-{digest.hexdigest()}"


class EmbeddingStore:
    """The float16 vectors of one model, on disk under ``root`` (thread-safe)."""

    def __init__(self, root: Path, *, max_rows: int = 1_000_000, max_segments: int = 32) -> None:
        self.root = root
        self.max_rows = max_rows
        self.max_segments = max_segments
        self._lock = threading.Lock()
        self._loaded = False
        self._index: dict[bytes, int] = {}  # key -> segment << 32 | row (an int: a third of a tuple's memory)
        self._segments: list[np.ndarray] = []
        self._dim: int | None = None
        self._next = 1
        self.skipped: list[str] = []  # segment files found damaged and ignored

    def __len__(self) -> int:
        with self._lock:
            self._load()
            return len(self._index)

    @property
    def dim(self) -> int | None:
        with self._lock:
            self._load()
            return self._dim

    # ------------------------------------------------------------------ reading
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("seg-*.bin")):
            number = int(path.stem.split("-")[1]) if path.stem.split("-")[1].isdigit() else 0
            self._next = max(self._next, number + 1)
            vectors = self._read_segment(path)
            if vectors is None:
                continue
            keys, matrix = vectors
            segment = len(self._segments)
            self._segments.append(matrix)
            for row, key in enumerate(keys):
                if len(self._index) >= self.max_rows:
                    break
                self._index.setdefault(key, segment << 32 | row)

    def _read_segment(self, path: Path) -> tuple[list[bytes], np.ndarray] | None:
        try:
            size = path.stat().st_size
            with path.open("rb") as fh:
                head = fh.read(HEADER.size)
                if len(head) < HEADER.size:
                    raise ValueError("shorter than its header")
                magic, dim, rows = HEADER.unpack(head)
                if magic != MAGIC or dim == 0:
                    raise ValueError("not an embedding segment")
                if self._dim is not None and dim != self._dim:
                    raise ValueError(f"{dim}-d vectors in a {self._dim}-d store")
                body_end = HEADER.size + rows * (KEY_BYTES + 2 * dim)
                if size != body_end + CRC.size:
                    raise ValueError(f"{size} bytes, {body_end + CRC.size} expected (torn write?)")
                fh.seek(0)
                crc = 0
                remaining = body_end
                while remaining:
                    chunk = fh.read(min(remaining, 1 << 22))
                    crc = zlib.crc32(chunk, crc)
                    remaining -= len(chunk)
                (stored,) = CRC.unpack(fh.read(CRC.size))
                if crc != stored:
                    raise ValueError("CRC mismatch")
                fh.seek(HEADER.size)
                key_bytes = fh.read(rows * KEY_BYTES)
        except (OSError, ValueError, struct.error) as exc:
            log.warning("embedding segment %s ignored: %s", path, exc)
            self.skipped.append(path.name)
            return None
        self._dim = dim
        keys = [key_bytes[i * KEY_BYTES:(i + 1) * KEY_BYTES] for i in range(rows)]
        matrix = np.memmap(path, dtype=np.float16, mode="r", offset=HEADER.size + rows * KEY_BYTES, shape=(rows, dim))
        return keys, matrix

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, float32 vectors of the found texts in order)."""
        keys = [text_key(t) for t in texts]
        with self._lock:
            self._load()
            places = np.array([self._index.get(k, -1) for k in keys], dtype=np.int64)
            found = places >= 0
            places = places[found]
            out = np.zeros((len(places), self._dim or 0), dtype=np.float32)
            segments, rows = places >> 32, places & 0xFFFFFFFF
            order = np.argsort(segments, kind="stable")  # one fancy-indexed read per segment
            starts = np.flatnonzero(np.diff(segments[order], prepend=-1)).tolist()
            for a, b in zip(starts, [*starts[1:], len(order)][:len(starts)], strict=True):
                picked = order[a:b]
                out[picked] = self._segments[int(segments[picked[0]])][rows[picked]]
        return found, out

    def count_missing(self, texts: Sequence[str]) -> int:
        keys = {text_key(t) for t in texts}
        with self._lock:
            self._load()
            return sum(1 for k in keys if k not in self._index)

    def clear(self) -> None:
        """Delete every segment (vectors of another size, say): the store is rebuilt from the next ``put``."""
        with self._lock:
            if self.root.is_dir():
                for path in self.root.glob("seg-*.bin"):
                    path.unlink(missing_ok=True)
            self._index, self._segments, self._dim, self._next, self._loaded = {}, [], None, 1, True

    # ------------------------------------------------------------------ writing
    def put(self, texts: Sequence[str], vectors: np.ndarray) -> int:
        """Append the texts not stored yet as one new segment (within ``max_rows``); how many were stored."""
        vectors = np.asarray(vectors)
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts, {len(vectors)} vectors")
        with self._lock:
            self._load()
            if len(texts) and self._dim is not None and vectors.shape[1] != self._dim:
                raise ValueError(f"{vectors.shape[1]}-d vectors for a store of {self._dim}-d vectors")
            fresh: dict[bytes, int] = {}
            room = self.max_rows - len(self._index)
            for i, text in enumerate(texts):
                key = text_key(text)
                if key not in self._index and key not in fresh and len(fresh) < room:
                    fresh[key] = i
            if not fresh:
                return 0
            matrix = np.ascontiguousarray(vectors[list(fresh.values())], dtype=np.float16)
            path = self._write(list(fresh), matrix)
            segment = len(self._segments)
            self._segments.append(np.memmap(path, dtype=np.float16, mode="r",
                                            offset=HEADER.size + len(fresh) * KEY_BYTES, shape=matrix.shape))
            for row, key in enumerate(fresh):
                self._index[key] = segment << 32 | row
            self._dim = int(matrix.shape[1])
            if len(self._segments) > self.max_segments:
                self._compact()
            return len(fresh)

    def segment_count(self) -> int:
        with self._lock:
            self._load()
            return len(list(self.root.glob("seg-*.bin"))) if self.root.is_dir() else 0

    def _compact(self) -> None:
        """Merge every segment into one new segment, then delete the old files (the lock is held)."""
        keys = list(self._index)
        places = np.array([self._index[k] for k in keys], dtype=np.int64)
        matrix = np.zeros((len(keys), self._dim or 0), dtype=np.float16)
        segments, rows = places >> 32, places & 0xFFFFFFFF
        for segment in np.unique(segments).tolist():
            picked = np.flatnonzero(segments == segment)
            matrix[picked] = self._segments[int(segment)][rows[picked]]
        old = sorted(self.root.glob("seg-*.bin"))
        path = self._write(keys, matrix)
        for stale in old:
            stale.unlink(missing_ok=True)
        self._segments = [np.memmap(path, dtype=np.float16, mode="r", offset=HEADER.size + len(keys) * KEY_BYTES,
                                    shape=matrix.shape)]
        self._index = {key: row for row, key in enumerate(keys)}

    def _write(self, keys: list[bytes], matrix: np.ndarray) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"seg-{self._next:08d}.bin"
        self._next += 1
        body = HEADER.pack(MAGIC, matrix.shape[1], len(keys)) + b"".join(keys) + matrix.tobytes()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(body)
            fh.write(CRC.pack(zlib.crc32(body)))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)  # whole or absent
        return path
