"""Label-issue candidates on digits with known flips, and what the scorecard recommends on clean data."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from labelsieve.learners.vector import VectorLearner
from labelsieve.quality.assess import assess
from labelsieve.quality.crossfit import choose_k, out_of_fold, stable_folds
from labelsieve.quality.issues import find_issues
from tests.quality.helpers import noisy_digits


def _assess(X: np.ndarray, given: np.ndarray):
    labels = [str(v) for v in given]
    learner = VectorLearner().fit(list(X), labels)
    ids = list(range(len(labels)))
    return assess(inputs=list(X), labels=labels, task_ids=ids, annotation_ids=[10_000 + i for i in ids],
                  learner=learner, make_learner=VectorLearner)


@pytest.fixture(scope="module")
def flipped_digits():
    X, given, _, flipped = noisy_digits(0.10, seed=0)
    return _assess(X, given), set(flipped.tolist())


def test_top_k_candidates_recover_random_flips_far_above_chance(flipped_digits) -> None:
    result, flipped = flipped_digits
    k = len(flipped)  # 180 of 1797: chance precision is 0.10
    top = {r.task_id for r in result.rows[:k]}  # rows are worst first
    precision = len(top & flipped) / k
    assert precision >= 0.7, f"top-{k} precision {precision:.2f} (chance 0.10)"
    flagged = {r.task_id for r in result.rows if r.flagged}
    assert len(flagged & flipped) / len(flipped) >= 0.75, "cleanlab's flags miss most flips"
    assert len(flagged & flipped) / len(flagged) >= 0.6
    # the suggestion is the true class for most caught flips
    X, given, truth, _ = noisy_digits(0.10, seed=0)
    caught = [r for r in result.rows[:k] if r.task_id in flipped]
    assert np.mean([r.suggested_label == str(truth[r.task_id]) for r in caught]) >= 0.8


def test_flipped_items_get_low_value_and_prune_marks_only_flips(flipped_digits) -> None:
    result, flipped = flipped_digits
    value = {r.task_id: r.value for r in result.rows}
    flips = np.array([value[i] for i in flipped])
    clean = np.array([v for i, v in value.items() if i not in flipped])
    assert flips.mean() < 0 < clean.mean()
    assert np.median(flips) < np.percentile(clean, 10)
    pruned = {r.task_id for r in result.rows if r.recommendation == "prune"}
    assert len(pruned) >= 30
    assert len(pruned & flipped) / len(pruned) >= 0.9


def test_clean_digits_get_nothing_to_prune() -> None:
    X, given, _, flipped = noisy_digits(0.0, seed=0)
    assert len(flipped) == 0
    result = _assess(X, given)
    assert result.summary["prune"] == 0
    assert result.summary["review"] <= 0.01 * len(given)  # a handful of genuinely ambiguous digits at most
    assert result.summary["keep"] >= 0.99 * len(given)


def test_folds_are_stratified_stable_and_affordable() -> None:
    labels = ["a"] * 20 + ["b"] * 3
    assert choose_k(labels) == 3 and choose_k(["a"] * 50 + ["b"] * 50) == 5
    folds = stable_folds(list(range(23)), labels, 3)
    assert set(folds[20:]) == {0, 1, 2}  # every fold sees the small class
    # an item keeps its fold when another labelled item arrives
    again = stable_folds(list(range(24)), labels + ["a"], 3)
    assert (again[20:23] == folds[20:23]).all()


def test_finding_label_issues_never_forks_the_process(monkeypatch) -> None:
    """cleanlab's default forks a multiprocessing.Pool; forking the threaded service (Ray's, torch's and its own
    threads) can hang the child on a copied lock and the scorecard with it: labelsieve keeps it in-process."""
    def no_fork(*args, **kwargs):
        raise AssertionError("find_issues started a process pool")

    monkeypatch.setattr(multiprocessing, "Pool", no_fork)
    rng = np.random.default_rng(0)
    classes = [f"c{k}" for k in range(6)]
    y = [classes[k % 6] for k in range(600)]
    proba = rng.dirichlet(np.ones(6), size=600)
    issues = find_issues(y, proba, classes)
    assert issues.cleanlab_flagged is not None and issues.cleanlab_flagged.any()
    # random probabilities are a model with no skill: cleanlab flags plenty, the gate shows none of it
    assert issues.flagged.shape == (600,) and not issues.flagged.any()
    assert issues.reliability is not None and not issues.reliability.shown
    assert "accuracy" in issues.reliability.reason


def _oof_issues(n: int, noise: float, seed: int):
    X, given, _, flipped = noisy_digits(noise, seed=seed)
    pick = np.random.default_rng(seed).choice(len(given), n, replace=False)
    labels = [str(v) for v in given[pick]]
    oof = out_of_fold(inputs=list(X[pick]), y=labels, keys=list(range(n)), make_learner=VectorLearner,
                      input_kind="vector", seed=seed)
    truth = np.isin(pick, flipped)
    return find_issues(labels, oof.proba, oof.classes), truth


def test_forty_correct_digit_labels_show_no_candidates_and_say_why() -> None:
    """The demo's 40 correct labels: plain cleanlab on the out-of-fold model flags several, none is shown."""
    issues, truth = _oof_issues(40, 0.0, seed=1)
    assert not truth.any()
    assert issues.cleanlab_flagged is not None and issues.cleanlab_flagged.sum() >= 3  # what used to be shown
    assert issues.flagged.sum() == 0
    assert issues.reliability is not None and not issues.reliability.shown
    assert "smallest class" in issues.reliability.reason


def test_threshold_adapts_to_the_noise_rate() -> None:
    """300 digits: clean labels give (about) no candidates; 20% flipped labels give many, mostly real flips."""
    clean = [_oof_issues(300, 0.0, seed) for seed in range(3)]
    assert all(i.reliability is not None and i.reliability.shown for i, _ in clean)
    assert sum(int(i.flagged.sum()) for i, _ in clean) <= 6  # at most 2 per 300 clean labels on average
    noisy, truth = _oof_issues(300, 0.20, seed=0)
    assert noisy.reliability is not None and noisy.reliability.shown
    assert noisy.reliability.noise_rate > max(i.reliability.noise_rate for i, _ in clean if i.reliability)
    shown = noisy.flagged
    assert shown.sum() >= 0.5 * truth.sum() and (shown & truth).sum() / shown.sum() >= 0.6
    assert noisy.wrong_probability is not None and (noisy.wrong_probability[shown] > 0.5).all()
