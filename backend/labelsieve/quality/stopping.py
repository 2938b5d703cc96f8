"""When to stop labelling: stabilising predictions (Bloodgood & Vijay-Shanker, CoNLL 2009).

A fixed *stop set* of tasks is drawn once from the unlabelled pool; every model version predicts it. Cohen's
kappa between the predictions of successive versions measures how much the model still changes; once the mean
kappa over the last ``window`` pairs reaches ``threshold`` (the paper: 0.99 over 3), labelling more is unlikely
to change the model. The rule needs no labels beyond those already given, and costs O(stop set) per version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

STOP_MESSAGE = "the model has stopped changing: labelling more is unlikely to help"
KEY = "stop_set"  # a model version's stop-set predictions: metrics["stop_set"] = {"ids": [...], "labels": [...]}


@dataclass(frozen=True)
class StopRule:
    """Stop once the mean kappa of the last ``window`` successive pairs is at least ``threshold``."""

    threshold: float = 0.99
    window: int = 3

    def fired(self, kappas: Sequence[float]) -> bool:
        return len(kappas) >= self.window and float(np.mean(kappas[-self.window:])) >= self.threshold

    def first_stop(self, kappas: Sequence[float]) -> int | None:
        """Index into ``kappas`` of the pair at which the rule first fires, or None."""
        for end in range(self.window, len(kappas) + 1):
            if self.fired(kappas[:end]):
                return end - 1
        return None


def agreement(before: Sequence[str], after: Sequence[str]) -> float:
    """Cohen's kappa of two label sequences; 1 when identical (kappa is undefined on one shared label)."""
    a, b = list(before), list(after)
    if a == b:
        return 1.0
    kappa = cohen_kappa_score(a, b)
    return float(kappa) if np.isfinite(kappa) else 0.0


def pair_kappa(before: Mapping[str, Any], after: Mapping[str, Any]) -> float | None:
    """Kappa of two stored stop-set predictions on the tasks both predicted (None when they share none)."""
    old = dict(zip(before["ids"], before["labels"], strict=True))
    new = dict(zip(after["ids"], after["labels"], strict=True))
    shared = [task for task in new if task in old]
    if not shared:
        return None
    return agreement([old[t] for t in shared], [new[t] for t in shared])


def kappa_series(records: Sequence[Mapping[str, Any] | None]) -> list[float]:
    """Kappa between each pair of successive stop-set predictions (versions without one are skipped)."""
    kept = [r for r in records if r and r.get("ids")]
    out = []
    for before, after in zip(kept, kept[1:], strict=False):
        kappa = pair_kappa(before, after)
        if kappa is not None:
            out.append(kappa)
    return out


def choose_stop_set(pool_ids: Sequence[int], size: int, rng: np.random.Generator) -> list[int]:
    """``min(size, len(pool))`` task ids drawn once from the unlabelled pool, sorted."""
    ids = np.asarray(sorted(int(t) for t in pool_ids), dtype=np.int64)
    if ids.shape[0] <= size:
        return ids.tolist()
    return np.sort(rng.choice(ids, size=size, replace=False)).tolist()
