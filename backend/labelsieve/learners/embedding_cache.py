"""Sentence embeddings kept between rounds: each text is encoded once per model and process.

Every retrain builds a new :class:`~labelsieve.learners.text.TextLearner` and ranks the whole pool with it; the
pool's texts do not change, and a sentence encoder on one CPU thread does ~50 texts a second, so re-encoding a
4,000-text pool cost ~80 s a round. :class:`EmbeddingCache` keeps the vectors, keyed by (model path, text),
least recently used out first beyond ``max_items``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np


class EmbeddingCache:
    def __init__(self, *, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def encode(self, model: str, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Vectors of ``texts`` (one row each, in order); only texts not cached yet go through ``encode``."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if (model, t) not in self._vectors))
        if missing:
            fresh = np.asarray(encode(missing), dtype=np.float32)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._vectors[(model, text)] = vector
        with self._lock:
            rows = []
            for text in texts:
                key = (model, text)
                vector = self._vectors.get(key)
                if vector is None:  # evicted by another thread between the two steps: encode it alone
                    vector = np.asarray(encode([text]), dtype=np.float32)[0]
                self._vectors[key] = vector
                self._vectors.move_to_end(key)
                rows.append(vector)
            while len(self._vectors) > self.max_items:
                self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


#: the process-wide cache every TextLearner with an ``embedding_model`` reads through
EMBEDDINGS = EmbeddingCache()
