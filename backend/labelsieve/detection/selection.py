"""Batch selection helpers for boxes: rare-class weighting by *predicted* class counts, and diversity on the
detector backbone's pooled features.

- :func:`rare_class_weight`: an image whose detections (any score) include classes that are rare among the boxes
  labelled so far gets its uncertainty multiplied by ``1 + rarity``; rarity of class ``c`` is
  ``mean_count / (count_c + 1)`` capped at ``cap``, weighted by the box's probability of ``c``.
- :func:`select_diverse`: take the ``prefilter × n`` most uncertain images, then farthest-first (greedy k-center)
  on their embeddings, starting from the most uncertain one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from labelsieve.detection.prediction import Detections


def rare_class_weight(pool: Sequence[Detections], labelled_counts: Mapping[str, int], classes: Sequence[str], *,
                      cap: float = 4.0) -> np.ndarray:
    counts = np.array([labelled_counts.get(c, 0) for c in classes], dtype=np.float64)
    rarity = np.minimum(cap, max(counts.mean(), 1.0) / (counts + 1.0))
    index = {c: j for j, c in enumerate(classes)}
    weights = np.ones(len(pool))
    for i, found in enumerate(pool):
        if len(found) == 0:
            continue
        if found.probs is not None:
            per_box = found.probs[:, 1:] @ rarity
        else:
            per_box = np.array([rarity[index[n]] * s for n, s in zip(found.labels, found.scores, strict=True)])
        weights[i] = 1.0 + float(per_box.max())
    return weights


def select_diverse(priority: np.ndarray, embeddings: np.ndarray, n: int, *, prefilter: int = 3) -> np.ndarray:
    """``n`` indices: the most uncertain image, then the candidate farthest from those already taken."""
    candidates = np.argsort(-priority, kind="stable")[: max(n, prefilter * n)]
    points = np.asarray(embeddings, dtype=np.float64)[candidates]
    picks = [0]
    distance = ((points - points[0]) ** 2).sum(axis=1)
    while len(picks) < min(n, len(candidates)):
        nxt = int(np.argmax(distance))
        picks.append(nxt)
        distance = np.minimum(distance, ((points - points[nxt]) ** 2).sum(axis=1))
    return candidates[np.array(picks, dtype=np.int64)]
