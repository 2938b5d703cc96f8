"""Decoded learner inputs kept between rounds, within a byte budget.

Every retrain ranks the whole pool with the new model, but the pool's inputs do not change between
rounds: decoding every image (or parsing every vector) again each round made a round cost
O(pool) decodes. :class:`InputCache` keeps what :class:`~labelsieve.inputs.InputLoader` returned for
a task, keyed by the project, the loader's kind and data field, and the task id, and checked
against the task's *stamp* (its ``updated_at``: it changes whenever the task's data does), so a
task whose data changed is decoded again and nothing stale is served.

Ranking rounds scan the pool in the same order every time, which defeats plain LRU eviction once
the pool outgrows the budget (each insert evicts what the next scan needs first). So eviction is
LRU across scans but never within one: :meth:`begin_scan` starts a scan, and an entry used or stored
in the current scan is never evicted for another of the same scan — a pool larger than the budget
keeps a stable cached prefix instead of thrashing. Entries of labelled tasks are never used again
and go first.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image


def input_nbytes(value: Any) -> int:
    """Approximate memory an input holds: pixels of an image, bytes of an array, size of a string."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, Image.Image):
        return value.width * value.height * len(value.getbands())
    return sys.getsizeof(value)


@dataclass
class _Entry:
    stamp: Hashable
    value: Any
    nbytes: int
    scan: int


class InputCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._scan = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def begin_scan(self) -> None:
        with self._lock:
            self._scan += 1

    def get(self, key: Hashable, stamp: Hashable) -> tuple[bool, Any]:
        """(True, value) when ``key`` is cached with this ``stamp``; a stale entry is dropped."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.stamp != stamp:
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return False, None
            entry.scan = self._scan
            self._entries.move_to_end(key)
            self.hits += 1
            return True, entry.value

    def put(self, key: Hashable, stamp: Hashable, value: Any) -> bool:
        """Store ``value``; False when it does not fit without evicting an entry of the current scan."""
        size = input_nbytes(value)
        with self._lock:
            if key in self._entries:
                self._drop(key)
            while self._bytes + size > self.max_bytes and self._entries:
                oldest_key, oldest = next(iter(self._entries.items()))
                if oldest.scan == self._scan:
                    return False
                self._drop(oldest_key)
            if self._bytes + size > self.max_bytes:
                return False
            self._entries[key] = _Entry(stamp, value, size, self._scan)
            self._bytes += size
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.nbytes
