"""Sentence embeddings kept between rounds: each text is encoded once per model, in memory and on disk.

Every retrain builds a new :class:`~labelsieve.learners.text.TextLearner` and ranks the whole pool with it; the
pool's texts do not change, and a sentence encoder on one CPU thread does ~50 texts a second, so re-encoding a
4,000-text pool cost ~80 s a round. :class:`EmbeddingCache` keeps the vectors, keyed by (model path, text),
least recently used out first beyond ``max_items``. Once :meth:`EmbeddingCache.attach` gives it a folder (the
service does, ``<data_dir>/embeddings``), it reads through one :class:`EmbeddingStore` per model: memory first,
then disk, then the encoder, whose vectors are appended to the store. Vectors are float16 on disk, so every
vector is rounded to float16 when a store is attached: a text gets the same vector before and after a restart.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from labelsieve.learners.embedding_store import EmbeddingStore, model_key


class EmbeddingCache:
    def __init__(self, *, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._max_rows = 0
        self._stores: dict[str, EmbeddingStore] = {}

    def __len__(self) -> int:
        return len(self._vectors)

    def attach(self, root: Path | None, *, max_rows: int = 1_000_000) -> None:
        """Read and write through the on-disk stores under ``root`` (None: memory only). The memory is emptied:
        what it held may come from another store."""
        with self._lock:
            self._root, self._max_rows = root, max_rows
            self._stores = {}
            self._vectors.clear()

    @property
    def root(self) -> Path | None:
        return self._root

    def store(self, model: str) -> EmbeddingStore | None:
        """The on-disk store of ``model``'s vectors, or None when no folder is attached."""
        with self._lock:
            if self._root is None:
                return None
            store = self._stores.get(model)
            if store is None:
                store = EmbeddingStore(self._root / model_key(model), max_rows=self._max_rows)
                self._stores[model] = store
            return store

    def forget(self, model: str) -> None:
        """Drop ``model``'s vectors from memory and disk (its encoder's output size changed): rebuilt on use."""
        with self._lock:
            for key in [k for k in self._vectors if k[0] == model]:
                del self._vectors[key]
        store = self.store(model)
        if store is not None:
            store.clear()

    def missing(self, model: str, texts: Sequence[str]) -> list[str]:
        """The distinct texts of ``texts`` neither in memory nor on disk (those a round would encode)."""
        with self._lock:
            unseen = list(dict.fromkeys(t for t in texts if (model, t) not in self._vectors))
        store = self.store(model)
        if store is None or not unseen:
            return unseen
        found, _ = store.get(unseen)
        return [t for t, ok in zip(unseen, found, strict=True) if not ok]

    def encode(self, model: str, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts`` (one row each, in order); only texts neither cached nor stored go through
        ``encode``."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if (model, t) not in self._vectors))
        if missing:
            self._remember(model, missing, self._fetch(model, missing, encode))
        with self._lock:
            rows = []
            for text in texts:
                key = (model, text)
                vector = self._vectors.get(key)
                if vector is None:  # evicted by another thread between the two steps: fetch it alone
                    vector = self._fetch(model, [text], encode)[0]
                self._vectors[key] = vector
                self._vectors.move_to_end(key)
                rows.append(vector)
            while len(self._vectors) > self.max_items:
                self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def _fetch(self, model: str, texts: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of distinct ``texts`` from the store, the rest encoded (and appended to the store)."""
        store = self.store(model)
        if store is None:
            return np.asarray(encode(texts), dtype=np.float32)
        found, stored = store.get(texts)
        todo = [t for t, ok in zip(texts, found, strict=True) if not ok]
        fresh = np.zeros((0, stored.shape[1]), dtype=np.float32)
        if todo:
            fresh = np.asarray(encode(todo), dtype=np.float16).astype(np.float32)  # as the store will give it
            store.put(todo, fresh)
        out = np.zeros((len(texts), fresh.shape[1] if todo else stored.shape[1]), dtype=np.float32)
        if found.any():
            out[found] = stored
        if todo:
            out[~found] = fresh
        return out

    def _remember(self, model: str, texts: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._vectors[(model, text)] = vector


#: the process-wide cache every TextLearner with an ``embedding_model`` reads through
EMBEDDINGS = EmbeddingCache()
