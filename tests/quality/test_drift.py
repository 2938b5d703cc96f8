"""Drift: a shifted batch of new tasks raises it, an i.i.d. batch does not (20 fixed seeds each; false-alarm rate
at most the test's level of 1% allows one in 20 by chance), a drop in the prequential accuracy is found by river's
ADWIN, and too few items say "too few to tell"."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from labelsieve.quality.drift import ALPHA, accuracy_changes, drift_block, mmd_test

REPETITIONS = 20


def _digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_shifted_batches_raise_drift_and_iid_batches_do_not() -> None:
    X, y = _digits()
    alarms, hits = 0, 0
    for seed in range(REPETITIONS):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(y))
        reference, rest = order[:400], order[400:]
        iid = rest[:60]
        shifted = rest[np.isin(y[rest], [0, 1, 2])][:60]  # new tasks from three of the ten classes only
        alarms += bool(mmd_test(X[reference], X[iid], rng=rng)["detected"])
        result = mmd_test(X[reference], X[shifted], rng=rng)
        hits += bool(result["detected"])
        assert result["p_value"] is not None and result["mmd2"] > 0
    assert alarms <= 1, f"{alarms} false alarms in {REPETITIONS} i.i.d. batches at level {ALPHA}"
    assert hits >= REPETITIONS - 1, f"{hits} of {REPETITIONS} shifted batches detected"


def test_too_few_new_tasks_is_too_few_to_tell_not_no_drift() -> None:
    X, _ = _digits()
    result = mmd_test(X[:400], X[400:410], rng=np.random.default_rng(0))
    assert result["detected"] is None and "too few to tell" in result["reason"]
    block = drift_block(result, None)
    assert block["detected"] is None and block["advice"] == "too few to tell"


def test_a_drop_in_the_prequential_accuracy_is_detected_and_a_rise_is_not_an_alarm() -> None:
    rng = np.random.default_rng(0)
    steady = rng.random(400) < 0.9
    drop = accuracy_changes(list(steady) + list(rng.random(200) < 0.6))
    assert drop["detected"] is True and drop["changes"][-1]["drop"]
    assert drop["changes"][-1]["at_label"] > 400 and drop["changes"][-1]["after"] < 0.85
    calm = [accuracy_changes(list(np.random.default_rng(s).random(600) < 0.9))["detected"] for s in range(20)]
    assert sum(calm) <= 1
    learning = accuracy_changes(list(rng.random(200) < 0.5) + list(rng.random(400) < 0.9))  # a learning curve
    assert learning["changes"] and learning["detected"] is False
    assert accuracy_changes([True] * 10)["detected"] is None
    block = drift_block({"detected": False}, drop)
    assert block["detected"] is True and "audit_share" in block["advice"]


def test_no_new_tasks_at_all_is_too_few_to_tell() -> None:
    X, _ = _digits()
    result = mmd_test(X[:400], np.zeros((0, 64)), rng=np.random.default_rng(0))
    assert result["detected"] is None and result["n_new"] == 0
    assert mmd_test(np.zeros((0, 3)), np.zeros((0, 3)), rng=np.random.default_rng(0))["detected"] is None
