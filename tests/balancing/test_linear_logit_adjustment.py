"""Post-hoc logit adjustment of the linear head (``VectorLearner(logit_tau=...)``): a rare class needs less evidence
to win, so its recall rises on a long tail, and the adjusted head is what is saved and served."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelsieve.learners.vector import VectorLearner


def long_tail_blobs(seed: int, counts: dict[str, int]) -> tuple[np.ndarray, list[str]]:
    """Gaussian classes around fixed centres; ``seed`` draws the points."""
    centre_rng, rng = np.random.default_rng(0), np.random.default_rng(seed)
    centres = {label: centre_rng.normal(0.0, 1.6, size=8) for label in sorted(counts)}
    X = np.vstack([rng.normal(centres[label], 1.0, size=(n, 8)) for label, n in counts.items()])
    y = [label for label, n in counts.items() for _ in range(n)]
    return X.astype(np.float32), y


def test_logit_tau_raises_tail_recall_and_survives_save_load(tmp_path: Path) -> None:
    train_counts = {"head": 300, "mid": 60, "tail": 6}
    X, y = long_tail_blobs(0, train_counts)
    X_test, y_test = long_tail_blobs(1, dict.fromkeys(train_counts, 200))  # balanced test points
    truth = np.asarray(y_test)
    recall = {}
    for tau in (0.0, 1.5):
        learner = VectorLearner(logit_tau=tau, pool_stats=False).fit(X, y)
        predicted = np.asarray(learner.predict(X_test))
        recall[tau] = float(np.mean(predicted[truth == "tail"] == "tail"))
    assert recall[1.5] >= recall[0.0] + 0.1, recall
    learner = VectorLearner(logit_tau=1.5, pool_stats=False).fit(X, y)
    learner.save(tmp_path)
    loaded = VectorLearner.load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(X_test), learner.predict_proba(X_test), atol=1e-5)
    plain = VectorLearner(pool_stats=False).fit(X, y)
    shift = learner.head_.intercept - plain.head_.intercept  # -tau * log prior: the rarest class gains the most
    assert shift[learner.classes_.index("tail")] > shift[learner.classes_.index("head")] + 1.5 * np.log(10)


def test_auto_adjusts_the_linear_head_on_encoder_vectors_and_weights_it_on_pixels() -> None:
    from labelsieve.balancing import prepare_training_set

    y = ["a"] * 60 + ["b"] * 6
    X = [np.zeros((4, 4), dtype=np.uint8)] * len(y)
    rng = np.random.default_rng(0)
    encoded = prepare_training_set(X, y, method="auto", params={}, learner_name="auto_image", rng=rng,
                                   learner_params={"encoder": "efficientnet_lite0", "linear_params": {"C": 0.5}})
    assert encoded.learner_overrides["linear_params"] == {"logit_tau": 1.5, "feature_power": 0.5, "C": 0.5}
    assert encoded.sample_weight is None and encoded.learner_overrides["loss_tau"] == 1.5
    pixels = prepare_training_set(X, y, method="auto", params={}, learner_name="auto_image", rng=rng,
                                  learner_params={"encoder": None})
    assert pixels.learner_overrides["linear_params"] == {"class_weight": "balanced"}
