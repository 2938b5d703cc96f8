"""Savings statistics on synthetic learning curves whose answers are known by hand."""

from __future__ import annotations

import numpy as np

from labelsieve.simulate.savings import (
    aulc,
    bootstrap_indices,
    labels_to_target,
    median_labels,
    paired_savings,
    percentile_ci,
    time_to,
    wss_at,
)

GRID = np.array([10, 20, 30, 40, 50])


def test_identical_savings_on_every_seed_give_a_point_interval() -> None:
    strategy = np.array([[0.5, 0.9, 0.95, 0.97, 0.98]] * 4)  # reaches 0.9 at 20 labels
    random = np.array([[0.5, 0.6, 0.7, 0.9, 0.95]] * 4)  # reaches 0.9 at 40 labels
    targets = np.full(4, 0.9)
    n_s, n_r = labels_to_target(GRID, strategy, targets), labels_to_target(GRID, random, targets)
    assert n_s == [20] * 4 and n_r == [40] * 4
    result = paired_savings(n_s, n_r, censor_at=60, boot=bootstrap_indices(4))
    assert result["savings"] == 0.5 and result["savings_ci"] == [0.5, 0.5]


def test_savings_are_paired_by_seed_and_the_interval_covers_the_spread() -> None:
    n_s, n_r = [20, 30, 20, 40], [40, 30, 40, 40]  # per seed: 0.5, 0, 0.5, 0
    result = paired_savings(n_s, n_r, censor_at=60, boot=bootstrap_indices(4))
    assert result["savings_per_seed"] == [0.5, 0.0, 0.5, 0.0]
    assert result["savings"] == 0.25
    lo, hi = result["savings_ci"]
    assert 0.0 <= lo < 0.25 < hi <= 0.5


def test_a_target_never_reached_is_censored_not_dropped() -> None:
    random = np.array([[0.5, 0.6, 0.7, 0.8, 0.85]] * 3)
    n_r = labels_to_target(GRID, random, np.full(3, 0.9))
    assert n_r == [None, None, None]
    assert median_labels(n_r, censor_at=60) == ">budget"
    result = paired_savings([30, 30, 30], n_r, censor_at=60, boot=bootstrap_indices(3))
    assert result["savings"] == 0.5  # 1 - 30/60: a lower bound, random needs more than the budget
    assert median_labels([20, None, 30], censor_at=60) == 30


def test_per_seed_targets_follow_each_seeds_full_data_score() -> None:
    curves = np.array([[0.8, 0.85, 0.9, 0.92, 0.94]] * 2)
    assert labels_to_target(GRID, curves, np.array([0.9, 0.94])) == [30, 50]


def test_percentile_ci_of_known_values() -> None:
    values = np.array([0.0, 1.0] * 50)
    lo, hi = percentile_ci(values, bootstrap_indices(100))
    assert 0.38 < lo < 0.45 and 0.55 < hi < 0.62  # mean 0.5, sd of the mean 0.05


def test_normalised_aulc() -> None:
    assert aulc(GRID, np.array([[0.7] * 5]))[0] == 0.7
    assert np.isclose(aulc(GRID, np.array([[0.0, 0.25, 0.5, 0.75, 1.0]]))[0], 0.5)


def test_work_saved_over_sampling_and_annotation_time() -> None:
    # 2 rare items in a pool of 100, both found among the first 4 labels: WSS@95 = (100-4)/100 - 0.05
    order = ["a", "rare", "b", "rare", "c"]
    assert np.isclose(wss_at(order, "rare", n_pool=100, rare_in_pool=2), 0.91)
    assert wss_at(order, "rare", n_pool=100, rare_in_pool=3) is None  # 95% of 3 not reached
    assert time_to([2.0, None, 4.0], 3) == 9.0  # the unknown one counts as the mean, 3 s
