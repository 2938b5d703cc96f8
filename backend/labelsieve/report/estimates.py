"""Honest numbers for a live project: which prequential scores are a random sample, and their uncertainty.

Active learning chooses the items it asks for, so the labels that score a model prequentially are the
ones the strategy found hardest: their accuracy is biased low (Farquhar et al. 2021, "On statistical
bias in active learning"). Selection is a deterministic top-k, so there is no selection probability to
re-weight by. What is unbiased is a *random audit*: the project's ``audit_share`` places tasks drawn
uniformly from the unlabelled pool into the head of each batch (marked in the query round's ``audit``
list), and the model is scored prequentially on those only — the idea behind "active testing"
(Kossen et al. 2021) in its simplest, importance weight 1 form. Rounds ranked by the ``random``
strategy are audits in full.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.storage.models import Annotation, QueryRound

Z95 = 1.959963984540054


def wilson_interval(hits: int, n: int, z: float = Z95) -> list[float] | None:
    """95% Wilson score interval of a proportion (good at 0, 1 and small n); None when n is 0."""
    if n <= 0:
        return None
    p = hits / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def audited_tasks(rounds: Sequence[QueryRound]) -> dict[str, set[int] | None]:
    """Per model version: the task ids served as a uniform random audit (None: every task of the round)."""
    out: dict[str, set[int] | None] = {}
    for r in rounds:
        if r.strategy == "random":
            out[r.model_version] = None
        elif r.audit:
            out[r.model_version] = {int(t) for t in r.audit}
    return out


def scored(annotations: Sequence[Annotation]) -> list[Annotation]:
    """Annotations that carry the serving model's earlier prediction (the prequential test set)."""
    return [a for a in annotations if not a.was_cancelled and a.labels and a.predicted_labels
            and a.predicted_version is not None]


def live_accuracy(annotations: Sequence[Annotation], rounds: Sequence[QueryRound]) -> dict[str, Any]:
    """The live accuracy estimate: audited items when there are any, else every scored item, flagged biased."""
    tested = scored(annotations)
    audits = audited_tasks(rounds)
    audited = [a for a in tested if a.predicted_version in audits
               and (audits[a.predicted_version] is None or a.task_id in audits[a.predicted_version])]  # type: ignore[operator]
    sample, unbiased = (audited, True) if audited else (tested, False)
    hits = sum(a.predicted_labels[0] == a.labels[0] for a in sample)  # type: ignore[index]
    n = len(sample)
    if unbiased:
        method = "random audit"
        note = (f"{n} label(s) on tasks drawn uniformly from the unlabelled pool (audit share), each scored by "
                "the model that served it before training on it: an unbiased estimate for the pool.")
    elif n:
        method = "prequential on chosen tasks (biased low)"
        note = (f"all {n} scored label(s) are tasks the strategy chose as hardest, so this under-estimates "
                "accuracy on the pool; set the project's audit_share (e.g. 0.1) for an unbiased estimate.")
    else:
        method, note = "none", "no label has been scored yet: labels that arrive after a model is serving score it"
    return {"value": hits / n if n else None, "ci": wilson_interval(hits, n), "n": n, "hits": int(hits),
            "method": method, "unbiased": unbiased, "n_audited": len(audited), "n_scored": len(tested),
            "note": note}


def degenerate_reason(n: np.ndarray, acc: np.ndarray, params: tuple[float, float, float],
                      bounds: tuple[list[float], list[float]]) -> str | None:
    """Why a power-law fit says nothing about the future (None when it is a usable curve)."""
    a, b, c = params
    if len(set(n.tolist())) < 3:
        return "fewer than 3 distinct label counts"
    if float(np.ptp(acc)) < 1e-9:
        return f"every scored version has the same accuracy ({acc[0]:.3f}): no trend to extrapolate"
    if a < 1e-3:
        return f"the fitted plateau is {a:.2g}: the scores do not describe a learning curve"
    if b < 1e-6:
        return "the fitted curve is flat (no improvement with labels)"
    lower, upper = bounds  # a plateau of exactly 1.0 is a real possibility; b and c on a bound are not
    for name, value, lo, hi in (("b", b, lower[1], upper[1]), ("c", c, lower[2], upper[2])):
        if min(value - lo, hi - value) <= 1e-4 * (hi - lo):
            return f"parameter {name} = {value:.3g} sits on its bound [{lo:g}, {hi:g}]: the fit is not identified"
    if float(np.corrcoef(n, acc)[0, 1]) < 0:
        return "accuracy falls as labels grow (biased prequential scores of ever harder tasks)"
    return None
