"""Learners that use the unlabeled pool beat the labelled-only fit; ``auto_image`` is useful from the first labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits

from labelsieve.learners.auto_image import AutoImageLearner
from labelsieve.learners.image import ImageLearner
from labelsieve.learners.pool_features import PoolFeatures
from labelsieve.learners.vector import VectorLearner

torch.set_num_threads(1)
SEEDS = range(5)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.images / 16.0 * 255).round().astype(np.uint8), data.data, data.target.astype(str)


def split(seed: int, n: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labelled, pool, test) positions: ``n`` random labels, 400 held out."""
    order = np.random.default_rng(seed).permutation(size)
    return order[400:400 + n], order[400 + n:], order[:400]


def accuracy(learner, X, y) -> float:
    return float(np.mean(np.array(learner.predict(list(X))) == y))


def test_label_spreading_on_the_pool_beats_the_labelled_only_fit_at_50_labels(digits) -> None:
    _, flat, y = digits
    gains = []
    for seed in SEEDS:
        labeled, pool, test = split(seed, 50, len(y))
        only = VectorLearner(pool_stats=False, semi_supervised=None, random_state=seed)
        only.fit(list(flat[labeled]), list(y[labeled]), unlabeled=list(flat[pool]))
        spread = VectorLearner(semi_supervised="label_spreading", random_state=seed)
        spread.fit(list(flat[labeled]), list(y[labeled]), unlabeled=list(flat[pool]))
        assert spread.n_pseudo_ > 100  # the pool was used: confident pseudo-labels joined the training set
        gains.append(accuracy(spread, flat[test], y[test]) - accuracy(only, flat[test], y[test]))
    assert min(gains) > 0, gains  # better on every seed
    assert np.mean(gains) > 0.04, gains  # measured +7.6 points on average (benchmarks/learner_recipes.py)


def test_the_default_vector_learner_is_no_worse_than_the_labelled_only_fit_at_50_labels(digits) -> None:
    _, flat, y = digits
    default, only = [], []
    for seed in SEEDS:
        labeled, pool, test = split(seed, 50, len(y))
        default.append(accuracy(VectorLearner(random_state=seed).fit(
            list(flat[labeled]), list(y[labeled]), unlabeled=list(flat[pool])), flat[test], y[test]))
        only.append(accuracy(VectorLearner(pool_stats=False, semi_supervised=None, random_state=seed).fit(
            list(flat[labeled]), list(y[labeled])), flat[test], y[test]))
    assert np.mean(default) >= np.mean(only), (default, only)


def test_pool_statistics_come_from_the_pool_and_round_trip(tmp_path: Path, digits) -> None:
    _, flat, y = digits
    labeled, pool, test = split(0, 30, len(y))
    learner = VectorLearner(pool_stats=True, pca_components=20, random_state=0)
    learner.fit(list(flat[labeled]), list(y[labeled]), unlabeled=list(flat[pool]))
    both = np.vstack([flat[labeled], flat[pool]])
    np.testing.assert_allclose(learner.features_.scale, np.where(both.std(0) > 1e-6, both.std(0), 1), rtol=1e-4)
    assert learner.embed(list(flat[test[:3]])).shape == (3, 20)
    learner.save(tmp_path)
    loaded = VectorLearner.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(list(flat[test])), learner.predict_proba(list(flat[test])),
                               rtol=1e-5, atol=1e-7)  # float32 after save/load, not bit-exact
    assert isinstance(loaded.features_, PoolFeatures)


def test_auto_image_beats_chance_and_the_plain_cnn_at_10_and_20_labels(digits) -> None:
    images, _, y = digits
    for seed, n in ((0, 10), (1, 20), (2, 20)):
        labeled, pool, test = split(seed, n, len(y))
        auto = AutoImageLearner(random_state=seed).fit([images[i] for i in labeled], list(y[labeled]),
                                                       unlabeled=[images[i] for i in pool])
        cnn = ImageLearner(random_state=seed).fit([images[i] for i in labeled], list(y[labeled]))
        auto_accuracy = accuracy(auto, [images[i] for i in test], y[test])
        cnn_accuracy = accuracy(cnn, [images[i] for i in test], y[test])
        assert auto.chosen_ == "linear" and not auto.cv_scores_  # no CNN trained below min_cnn_labels
        assert auto_accuracy > 0.35, (n, auto_accuracy)  # chance is 0.10
        assert auto_accuracy > cnn_accuracy + 0.10, (n, auto_accuracy, cnn_accuracy)
        assert len(set(auto.predict([images[i] for i in test]))) >= 6  # not one class for every image


def test_auto_image_switches_to_the_cnn_only_when_cross_validation_says_so_and_round_trips(
        tmp_path: Path, digits) -> None:
    images, _, y = digits
    labeled, pool, test = split(3, 60, len(y))
    learner = AutoImageLearner(min_cnn_labels=60, cv_folds=2, cnn_params={"epochs": 3}, random_state=3)
    learner.fit([images[i] for i in labeled], list(y[labeled]), unlabeled=[images[i] for i in pool])
    assert set(learner.cv_scores_) == {"linear", "cnn"}
    better = max(learner.cv_scores_, key=lambda k: (learner.cv_scores_[k], k == "linear"))
    assert learner.chosen_ == better
    test_images = [images[i] for i in test]
    learner.save(tmp_path)
    loaded = AutoImageLearner.load(tmp_path)
    assert loaded.chosen_ == learner.chosen_
    np.testing.assert_allclose(loaded.predict_proba(test_images), learner.predict_proba(test_images), atol=1e-6)
    assert loaded.embed(test_images[:2]).shape[0] == 2


def test_semi_supervised_auto_picks_by_cross_validation_what_suits_the_data(digits) -> None:
    """Label spreading helps on digits (clustered) and hurts on breast_cancer: ``auto`` tells them apart."""
    from_cancer = load_breast_cancer()
    _, flat, y = digits
    sets = {"digits": (flat, y), "breast_cancer": (from_cancer.data, from_cancer.target.astype(str))}
    chosen: dict[str, list[str | None]] = {name: [] for name in sets}
    for name, (X, labels) in sets.items():
        for seed in range(4):
            order = np.random.default_rng(seed).permutation(len(labels))
            labeled, pool = order[150:200], order[200:]
            learner = VectorLearner(semi_supervised="auto", random_state=seed)
            learner.fit(list(X[labeled]), list(labels[labeled]), unlabeled=list(X[pool]))
            assert set(learner.semi_supervised_cv_) == {"None", "self_training", "label_spreading"}
            best = max(learner.semi_supervised_cv_.values())
            assert learner.semi_supervised_cv_[str(learner.semi_supervised_used_)] == best
            chosen[name].append(learner.semi_supervised_used_)
    assert None not in chosen["digits"], chosen
    assert "label_spreading" not in chosen["breast_cancer"], chosen


def test_an_unknown_semi_supervised_method_is_refused_by_name(digits) -> None:
    _, flat, y = digits
    with pytest.raises(ValueError, match="unknown semi_supervised 'co_training'"):
        VectorLearner(semi_supervised="co_training").fit(list(flat[:40]), list(y[:40]), unlabeled=list(flat[40:80]))
