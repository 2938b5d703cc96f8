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
    """(new order, pool indices drawn for the audit). Rank 0 stays the strategy's own first pick; a drawn item
    the strategy already put in the head stays in its place (it is still part of the uniform audit sample)."""
    order = np.asarray(order, dtype=np.int64)
    head = min(batch_size, len(order))
    k = audit_count(share, head)
    if k == 0:
        return order, np.zeros(0, dtype=np.int64)
    picked = rng.choice(len(order), size=k, replace=False).astype(np.int64)
    place = {int(item): int(pos) for pos, item in enumerate(order[:head]) if item in set(picked.tolist())}
    outside = [int(item) for item in picked if int(item) not in place]  # in-head picks keep their rank
    free = [pos for pos in range(1, head) if pos not in place.values()]
    for j in range(len(outside)):  # evenly spaced over the free slots of the head
        place[outside[j]] = free[min(len(free) - 1, (j + 1) * len(free) // (len(outside) + 1))]
    while len(set(place.values())) < len(place):  # tiny heads: move collisions to the last free slot
        taken = set()
        for item, pos in sorted(place.items(), key=lambda kv: kv[1]):
            if pos in taken:
                place[item] = max(set(free) - taken - set(place.values()))
            taken.add(place[item])
    others = iter(order[~np.isin(order, picked)].tolist())
    by_position = {pos: item for item, pos in place.items()}
    head_items = [by_position[pos] if pos in by_position else next(others) for pos in range(head)]
    return np.concatenate([np.asarray(head_items, dtype=np.int64), np.fromiter(others, dtype=np.int64)]), picked
