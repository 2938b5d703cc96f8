"""Tukey's power transform of the linear head's input vectors (``VectorLearner(feature_power=0.5)``), what ``auto``
adds to logit adjustment on a pretrained encoder's vectors: on sparse, heavy-tailed non-negative vectors (post-ReLU
encoder features are) a tail class with 3 examples is recalled better than with the plain adjusted head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from labelsieve.learners.vector import VectorLearner


def skewed_vectors(seed: int, counts: dict[str, int], dim: int = 24) -> tuple[np.ndarray, list[str]]:
    """Non-negative, sparse, heavy-tailed vectors: a fixed profile per class, dropped out and scaled lognormally."""
    profile_rng, rng = np.random.default_rng(0), np.random.default_rng(seed)
    profiles = {c: profile_rng.uniform(0.2, 1.0, dim) * (profile_rng.random(dim) < 0.5) for c in sorted(counts)}
    X = np.vstack([np.tile(profiles[c], (n, 1)) for c, n in counts.items()])
    X *= rng.random(X.shape) < 0.7
    X *= rng.lognormal(0.0, 1.0, X.shape)
    return X.astype(np.float32), [c for c, n in counts.items() for _ in range(n)]


def test_power_transform_recalls_a_three_example_tail_better(tmp_path: Path) -> None:
    counts = {"a": 200, "b": 200, "c": 60, "tail": 3}
    recall: dict[float, list[float]] = {1.0: [], 0.5: []}
    balanced: dict[float, list[float]] = {1.0: [], 0.5: []}
    for seed in range(3):
        X, y = skewed_vectors(seed, counts)
        X_test, y_test = skewed_vectors(100 + seed, dict.fromkeys(counts, 200))
        truth = np.asarray(y_test)
        for power in recall:
            learner = VectorLearner(logit_tau=1.5, pool_stats=False, feature_power=power).fit(X, y)
            predicted = np.asarray(learner.predict(X_test))
            recall[power].append(float(np.mean(predicted[truth == "tail"] == "tail")))
            balanced[power].append(float(balanced_accuracy_score(truth, predicted)))
    assert np.mean(recall[0.5]) >= np.mean(recall[1.0]) + 0.08, recall
    assert np.mean(balanced[0.5]) >= np.mean(balanced[1.0]), balanced
    learner.save(tmp_path)  # the transform is a parameter: the loaded head reads the same vectors the same way
    loaded = VectorLearner.load(tmp_path)
    assert loaded.feature_power == 0.5
    np.testing.assert_allclose(loaded.predict_proba(X_test), learner.predict_proba(X_test), atol=1e-5)
    np.testing.assert_allclose(loaded.embed(X_test), learner.embed(X_test), atol=1e-5)


@pytest.mark.parametrize("power", [0.0, 1.5, "half"])
def test_feature_power_outside_zero_to_one_is_refused(power: object) -> None:
    X, y = skewed_vectors(0, {"a": 10, "b": 10})
    with pytest.raises(ValueError, match="feature_power"):
        VectorLearner(feature_power=power).fit(X, y)  # type: ignore[arg-type]
