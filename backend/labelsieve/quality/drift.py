"""Drift: are new tasks unlike the earlier ones, and is the prequential accuracy falling?

- **Feature drift** (:func:`mmd_test`): a two-sample test on the project's features (the serving learner's
  ``embed``) between a batch of new tasks and the tasks known before it. Statistic: the squared maximum mean
  discrepancy (MMD², biased V-statistic) with a Gaussian kernel whose bandwidth is the median pairwise distance
  of the pooled sample; threshold: a permutation test (``permutations`` random relabellings of the pooled sample;
  p = (1 + #{permuted MMD² >= observed}) / (1 + permutations)), drift when p < ``alpha`` (0.01: the false-alarm
  rate of an i.i.d. batch). Effect size: MMD² itself and ``z``, its distance from the permutation mean in
  permutation standard deviations. Each side is subsampled to ``max_items`` (300): the cost is fixed,
  O(permutations x (2 x max_items)²) (about 0.1 s), whatever the project's size. Fewer than ``MIN_ITEMS`` (20)
  new tasks: ``detected`` is None, "too few to tell", never "no drift".
- **Accuracy drift** (:func:`accuracy_changes`): the prequential stream (1 when the serving model's prediction
  for a task matched the label that came, else 0, in labelling order) is watched by ``river.drift.ADWIN``; each
  change it detects is reported with the accuracy of the part it dropped and of the window it kept; a change is
  a drop when the kept window's accuracy is lower. ``detected`` is true when the latest change is a drop (an
  active-learning curve rises, and ADWIN reports rises too: those are not alarms), None under ``MIN_STREAM`` (30)
  scored labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from river.drift import ADWIN
from sklearn.metrics.pairwise import euclidean_distances

MIN_ITEMS = 20
MIN_STREAM = 30
ALPHA = 0.01
PERMUTATIONS = 200
MAX_ITEMS = 300
ADWIN_DELTA = 0.002


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= n else x[np.sort(rng.choice(len(x), n, replace=False))]


def _rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1) if x.size else np.zeros((len(x), 1))


def mmd_test(reference: np.ndarray, batch: np.ndarray, *, rng: np.random.Generator, alpha: float = ALPHA,
             permutations: int = PERMUTATIONS, max_items: int = MAX_ITEMS,
             min_items: int = MIN_ITEMS) -> dict[str, Any]:
    reference, batch = _rows(reference), _rows(batch)
    base: dict[str, Any] = {"test": "MMD permutation test (Gaussian kernel, median bandwidth)", "alpha": alpha,
                            "n_reference": int(len(reference)), "n_new": int(len(batch))}
    if len(batch) < min_items or len(reference) < min_items:
        return {**base, "detected": None, "p_value": None, "mmd2": None, "z": None,
                "reason": f"too few to tell: {len(batch)} new and {len(reference)} earlier task(s), at least "
                          f"{min_items} of each needed"}
    x, y = _subsample(reference, max_items, rng), _subsample(batch, max_items, rng)
    pooled = np.vstack([x, y])
    d2 = euclidean_distances(pooled, squared=True)
    off = d2[np.triu_indices(len(pooled), k=1)]
    scale = float(np.median(off[off > 0])) if (off > 0).any() else 1.0
    kernel = np.exp(-d2 / scale)
    n, m = len(x), len(y)
    signs = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    observed = float(signs @ kernel @ signs)
    shuffled = np.stack([rng.permutation(signs) for _ in range(permutations)])
    null = np.einsum("pi,ij,pj->p", shuffled, kernel, shuffled)
    p_value = float((1 + np.sum(null >= observed - 1e-12)) / (1 + permutations))
    spread = float(null.std())
    return {**base, "detected": bool(p_value < alpha), "p_value": round(p_value, 5), "mmd2": round(observed, 6),
            "z": round((observed - float(null.mean())) / spread, 3) if spread > 0 else None,
            "n_compared": [int(n), int(m)], "permutations": permutations,
            "reason": "new tasks differ from the earlier ones" if p_value < alpha else "no evidence of a shift"}


def accuracy_changes(correct: Sequence[bool], *, delta: float = ADWIN_DELTA,
                     min_stream: int = MIN_STREAM) -> dict[str, Any]:
    detector = ADWIN(delta=delta)
    changes: list[dict[str, Any]] = []
    for i, hit in enumerate(correct):
        width, mean = float(detector.width), float(detector.estimation)
        detector.update(float(hit))
        if detector.drift_detected:
            kept_width, kept = float(detector.width), float(detector.estimation)
            dropped = width + 1 - kept_width
            before = (mean * width + float(hit) - kept * kept_width) / dropped if dropped > 0 else mean
            changes.append({"at_label": i + 1, "before": round(before, 4), "after": round(kept, 4),
                            "drop": bool(kept < before)})
    n = len(correct)
    base: dict[str, Any] = {"detector": f"river ADWIN (delta={delta})", "n_scored": n, "changes": changes,
                            "window_accuracy": round(float(detector.estimation), 4) if n else None}
    if n < min_stream:
        return {**base, "detected": None,
                "reason": f"too few to tell: {n} prequentially scored label(s), at least {min_stream} needed"}
    latest = changes[-1] if changes else None
    detected = bool(latest and latest["drop"])
    reason = (f"accuracy fell from {latest['before']:.2f} to {latest['after']:.2f} at label {latest['at_label']}"
              if detected and latest else "no drop in the prequential accuracy")
    return {**base, "detected": detected, "reason": reason}


def drift_block(features: dict[str, Any] | None, accuracy: dict[str, Any] | None) -> dict[str, Any]:
    """The ``drift`` block of the project status: ``detected`` true when either test says so, false when both can
    tell and neither does, None ("too few to tell") otherwise."""
    verdicts = [part.get("detected") for part in (features, accuracy) if part is not None]
    if any(v is True for v in verdicts):
        detected: bool | None = True
    elif verdicts and all(v is False for v in verdicts):
        detected = False
    else:
        detected = None
    out: dict[str, Any] = {"detected": detected, "features": features, "accuracy": accuracy}
    if detected:
        out["advice"] = ("the data or the model's accuracy changed: label a uniform random sample of the new tasks "
                         "(set the project's audit_share, e.g. 0.2) so the accuracy estimate and the model catch up")
    elif detected is None:
        out["advice"] = "too few to tell"
    return out
