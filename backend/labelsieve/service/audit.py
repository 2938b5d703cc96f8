"""A random audit share in the head of each ranking: the items that score the model without selection bias.

``place_audit`` draws ``round(share × batch)`` pool items uniformly at random (independently of the strategy)
and moves them into evenly spaced slots of the first ``batch`` ranks, so Label Studio serves them among the
strategy's picks. The query round records them (``QueryRound.audit``); :mod:`labelsieve.report.estimates`
scores the model prequentially on their labels only.
"""

from __future__ import annotations

import numpy as np


def audit_count(share: float, head: int) -> int:
    """Audit items in a head of ``head`` ranks: at least one whenever the share is positive and head > 1."""
    if share <= 0 or head < 2:
        return 0
    return min(head - 1, max(1, int(round(share * head))))


def place_audit(order: np.ndarray, *, share: float, batch_size: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(new order, pool indices drawn for the audit). Rank 0 stays the strategy's own first pick."""
    order = np.asarray(order, dtype=np.int64)
    head = min(batch_size, len(order))
    k = audit_count(share, head)
    if k == 0:
        return order, np.zeros(0, dtype=np.int64)
    picked = rng.choice(len(order), size=k, replace=False).astype(np.int64)
    rest = order[~np.isin(order, picked)]
    slots = sorted({int(round((j + 1) * head / (k + 1))) for j in range(k)})
    while len(slots) < k:  # tiny heads: fill the remaining slots from the back
        slots = sorted(set(slots) | {max(set(range(1, head)) - set(slots))})
    out = np.empty(len(order), dtype=np.int64)
    mask = np.zeros(len(order), dtype=bool)
    mask[slots] = True
    out[mask] = picked
    out[~mask] = rest
    return out, picked
