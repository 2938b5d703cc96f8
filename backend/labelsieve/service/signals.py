"""The project's own prequential signal for strategies that adapt (``PoolContext.prequential_accuracy``).

When a label arrives, the intake stores what the serving model predicted for that task before it trained on it
(``Annotation.predicted_labels``). In labelling order, the share right over ``WINDOW`` consecutive such labels is
how good the models were then; the signal is the best of those windows so far. It is the best, not the latest,
because the latest is biased by the strategy that chose the items: an uncertainty strategy asks for the items the
model gets wrong, a cold-start one for typical items it gets right, and a signal that swung with that would swing
the adaptive strategy back and forth. So once ``WINDOW`` labels are scored the signal only rises, as the model
does (before, it is the share right over all of them, from ``MIN_SCORED``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelsieve.storage.models import Annotation, Task

WINDOW = 30  # consecutive scored labels per estimate
MIN_SCORED = 5  # fewer scored labels than this: no signal yet (one small batch is enough)


def best_prequential_accuracy(examples: Sequence[tuple[Task, Annotation]], window: int = WINDOW,
                              min_scored: int = MIN_SCORED) -> float | None:
    """Best share right over ``window`` consecutive scored labels (all of them while fewer), or None."""
    scored = sorted((int(ann.id or 0), sorted(ann.predicted_labels) == sorted(ann.labels)) for _, ann in examples
                    if ann.predicted_version and ann.predicted_labels and ann.labels)
    if len(scored) < min_scored:
        return None
    right = np.array([hit for _, hit in scored], dtype=np.float64)
    if right.shape[0] <= window:
        return float(right.mean())
    sums = np.convolve(right, np.ones(window), mode="valid")
    return float(sums.max() / window)
