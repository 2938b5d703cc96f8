"""Method against method on the same seeds: labels to a target, paired differences and their bootstrap intervals.

Every method of a comparison runs on the same split and seed set per seed, so differences are taken per seed
(paired) and their mean gets a percentile bootstrap interval over seeds, drawn with an explicit generator. A
curve that never reaches the target within the budget counts as ``censor_at`` (budget + one batch): a censored
count is a lower bound on the labels really needed, so a difference involving one is marked as a bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labelsieve.simulate.savings import bootstrap_indices, first_reaching, percentile_ci


@dataclass(frozen=True)
class PairedDifference:
    """``other − ours`` in labels per seed (> 0: ours needs fewer), its mean and 95% bootstrap interval."""

    per_seed: list[float]
    mean: float
    ci: tuple[float, float]
    censored: bool  # some seed of either side never reached the target

    @property
    def verdict(self) -> str:
        """``fewer`` / ``more`` when the interval excludes 0 (ours needs fewer / more labels), else ``tie``."""
        if self.ci[0] > 0:
            return "fewer"
        if self.ci[1] < 0:
            return "more"
        return "tie"

    def cell(self) -> str:
        mark = " (censored)" if self.censored else ""
        return f"{self.mean:+.1f} [{self.ci[0]:+.1f}, {self.ci[1]:+.1f}] {self.verdict}{mark}"


def labels_to_absolute(grid: np.ndarray, curves: np.ndarray, target: float) -> list[int | None]:
    """Per seed (row of ``curves``), labels at the first round whose score reaches the fixed ``target``."""
    return [first_reaching(grid, row, target) for row in np.asarray(curves, dtype=np.float64)]


def censored(values: Sequence[int | None], censor_at: int) -> np.ndarray:
    return np.array([censor_at if v is None else v for v in values], dtype=np.float64)


def paired_difference(ours: Sequence[int | None], other: Sequence[int | None], *, censor_at: int,
                      rng: np.random.Generator | int = 0, n_boot: int = 2000) -> PairedDifference:
    """Paired (by seed) difference ``other − ours`` with a percentile bootstrap interval of its mean."""
    if len(ours) != len(other) or not ours:
        raise ValueError(f"paired comparison needs the same seeds on both sides, got {len(ours)} and {len(other)}")
    diff = censored(other, censor_at) - censored(ours, censor_at)
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    boot = bootstrap_indices(len(diff), n_boot=n_boot, seed=int(generator.integers(0, 2**31 - 1)))
    lo, hi = percentile_ci(diff, boot)
    return PairedDifference(per_seed=diff.tolist(), mean=float(diff.mean()), ci=(lo, hi),
                            censored=any(v is None for v in [*ours, *other]))


def accuracy_at(grid: np.ndarray, curves: np.ndarray, n_labels: int) -> float | None:
    """Mean score over seeds at the last round with at most ``n_labels`` labels (None before the first round or
    past the budget)."""
    at = np.flatnonzero(np.asarray(grid) <= n_labels)
    if at.size == 0 or n_labels > int(np.asarray(grid)[-1]):
        return None
    return float(np.asarray(curves, dtype=np.float64)[:, at[-1]].mean())
