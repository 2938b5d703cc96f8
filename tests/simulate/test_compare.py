"""Paired comparisons of methods: labels to a fixed accuracy, per-seed differences and their bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.simulate.compare import accuracy_at, labels_to_absolute, paired_difference

GRID = np.array([20, 30, 40, 50])


def test_labels_to_a_fixed_accuracy_per_seed() -> None:
    curves = np.array([[0.5, 0.8, 0.9, 0.95], [0.6, 0.91, 0.92, 0.93], [0.1, 0.2, 0.3, 0.4]])
    assert labels_to_absolute(GRID, curves, 0.9) == [40, 30, None]


def test_accuracy_at_takes_the_last_round_within_the_labels() -> None:
    curves = np.array([[0.5, 0.7, 0.8, 0.9], [0.7, 0.9, 1.0, 1.0]])
    assert accuracy_at(GRID, curves, 35) == pytest.approx(0.8)
    assert accuracy_at(GRID, curves, 10) is None
    assert accuracy_at(GRID, curves, 100) is None  # past the budget: not the last round's score


def test_a_consistent_difference_is_real_and_a_noisy_one_is_a_tie() -> None:
    ours = [100, 110, 90, 120, 100, 105, 95, 100, 110, 90]
    fewer = paired_difference(ours, [v + 20 + (k % 3) for k, v in enumerate(ours)], censor_at=410, rng=0)
    assert fewer.verdict == "fewer" and fewer.mean == pytest.approx(21.0 - 0.1) and fewer.ci[0] > 0
    more = paired_difference([v + 30 for v in ours], ours, censor_at=410, rng=0)
    assert more.verdict == "more" and more.ci[1] < 0
    noisy = paired_difference(ours, [v + d for v, d in zip(ours, [40, -40, 30, -30, 20, -20, 10, -10, 5, -5],
                                                           strict=True)], censor_at=410, rng=0)
    assert noisy.verdict == "tie" and noisy.ci[0] < 0 < noisy.ci[1]


def test_censored_counts_are_budget_plus_a_batch_and_marked() -> None:
    d = paired_difference([100, None], [None, 200], censor_at=410, rng=0)
    assert d.per_seed == [310.0, -210.0] and d.censored and "(censored)" in d.cell()


def test_the_interval_depends_only_on_the_given_generator() -> None:
    ours, other = [100, 120, 80, 90, 130], [110, 150, 85, 120, 131]
    a = paired_difference(ours, other, censor_at=410, rng=np.random.default_rng(7))
    b = paired_difference(ours, other, censor_at=410, rng=np.random.default_rng(7))
    assert a.ci == b.ci and a.ci[0] <= a.mean <= a.ci[1]


def test_unpaired_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([1, 2], [1], censor_at=10)
