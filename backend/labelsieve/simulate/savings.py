"""Annotation-cost savings from stored runs, paired by seed, with percentile bootstrap intervals.

- labels to target, per seed: the first round whose held-out score reaches ``fraction ×`` that
  seed's full-data score (same learner recipe trained on the whole pool). A curve that never gets
  there within the budget is *censored*: it counts as ``budget + batch`` (so its savings are
  conservative) and is reported as ``>budget``, never dropped;
- savings per seed = 1 − n_strategy / n_random on the same split and seed set; the point estimate
  is their mean and the 95% interval a percentile bootstrap of that mean over seeds (2000 resamples); their
  median, and the paired median of labels saved (random − strategy) with its bootstrap interval, beside it;
  a censored count makes the saving a bound (``savings_bound``: lower, upper or unknown);
- normalised AULC: trapezoid area under each seed's curve over the labelled range (DeepAL+ AUBC);
- WSS@95 (ASReview): (N − n95) / N − 0.05, where n95 labels found 95% of the rare class in the pool;
- annotation seconds to the target from the Label Studio ``lead_time`` of the labelled items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

N_BOOT = 2000
TARGETS = (0.90, 0.95, 0.98, 0.99)


def first_reaching(grid: np.ndarray, curve: np.ndarray, target: float) -> int | None:
    hits = np.flatnonzero(np.asarray(curve) >= target - 1e-12)
    return int(grid[hits[0]]) if hits.size else None


def bootstrap_indices(n_seeds: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_seeds, size=(n_boot, n_seeds))


def percentile_ci(values: np.ndarray, boot: np.ndarray) -> list[float]:
    """95% percentile bootstrap interval of the mean of ``values`` (one value per seed)."""
    means = np.asarray(values, dtype=np.float64)[boot].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [float(lo), float(hi)]


def labels_to_target(grid: np.ndarray, matrix: np.ndarray, targets: np.ndarray) -> list[int | None]:
    """Per seed (row), labels at the first round reaching that seed's target score."""
    return [first_reaching(grid, row, float(t)) for row, t in zip(matrix, targets, strict=True)]


def paired_savings(
    n_strategy: Sequence[int | None], n_random: Sequence[int | None], *, censor_at: int, boot: np.ndarray,
) -> dict[str, Any]:
    """Per-seed savings 1 − n_s / n_r (censored counts at ``censor_at``), mean and bootstrap CI."""
    s = np.array([censor_at if n is None else n for n in n_strategy], dtype=np.float64)
    r = np.array([censor_at if n is None else n for n in n_random], dtype=np.float64)
    per_seed = 1.0 - s / r
    censored_s = any(n is None for n in n_strategy)
    censored_r = any(n is None for n in n_random)
    # a censored random count is too small, so that seed's saving is a lower bound; a censored strategy count
    # is too small as well, so its saving is an upper bound; with both, the direction is unknown
    bound = {(False, True): "lower", (True, False): "upper", (True, True): "unknown"}.get((censored_s, censored_r))
    difference = r - s
    medians = np.median(difference[boot], axis=1)
    return {
        "savings": float(per_seed.mean()), "savings_ci": percentile_ci(per_seed, boot),
        "savings_median": float(np.median(per_seed)), "savings_per_seed": per_seed.round(6).tolist(),
        "savings_bound": bound,
        # labels saved per seed (random − strategy), paired median and its percentile bootstrap interval
        "labels_saved": {"median": float(np.median(difference)),
                         "ci": [float(x) for x in np.percentile(medians, [2.5, 97.5])]},
    }


def median_labels(values: Sequence[int | None], censor_at: int) -> int | str:
    """Median over seeds; ``">budget"`` when the median seed did not reach the target."""
    filled = np.sort(np.array([censor_at if v is None else v for v in values], dtype=np.float64))
    median = float(np.median(filled))
    return ">budget" if median >= censor_at else int(round(median))


def aulc(grid: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Normalised area under each seed's learning curve (1.0 = perfect from the first round)."""
    if grid.size < 2:
        return np.asarray(matrix, dtype=np.float64)[:, 0].copy()
    y = np.asarray(matrix, dtype=np.float64)
    area = ((y[:, 1:] + y[:, :-1]) / 2.0 * np.diff(grid)).sum(axis=1)
    return area / float(grid[-1] - grid[0])


def curve_band(matrix: np.ndarray, boot: np.ndarray) -> dict[str, list[float]]:
    """Mean curve and its 95% bootstrap band over seeds."""
    means = np.asarray(matrix, dtype=np.float64)[boot].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5], axis=0)
    return {"mean": np.asarray(matrix).mean(axis=0).tolist(), "lo": lo.tolist(), "hi": hi.tolist()}


def wss_at(order_labels: Sequence[str], rare: str, n_pool: int, rare_in_pool: int,
           recall: float = 0.95) -> float | None:
    """Work saved over sampling at ``recall`` for class ``rare`` (None if not reached in the budget)."""
    if rare_in_pool == 0:
        return None
    needed = int(np.ceil(recall * rare_in_pool))
    found = np.cumsum(np.asarray(order_labels, dtype=object) == rare)
    hits = np.flatnonzero(found >= needed)
    if hits.size == 0:
        return None
    return float((n_pool - (hits[0] + 1)) / n_pool - (1.0 - recall))


def time_to(lead_times: Sequence[float | None] | None, n: int | None) -> float | None:
    """Seconds of annotation the first ``n`` labels took (unknown lead times count as the mean)."""
    if lead_times is None or n is None:
        return None
    values = np.array([np.nan if v is None else v for v in lead_times], dtype=np.float64)
    if not np.isfinite(values).any():
        return None
    values = np.where(np.isfinite(values), values, np.nanmean(values))
    return float(values[:n].sum())
