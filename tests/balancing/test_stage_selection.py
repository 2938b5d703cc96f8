"""auto_image picks its stage by balanced accuracy while balancing is on: on long-tailed folds plain accuracy favours
a linear model that predicts the head class, and a balanced CNN that gets the tail right must win there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from labelsieve.balancing import prepare_training_set
from labelsieve.balancing.stages import routed_params
from labelsieve.learners.auto_image import AutoImageLearner

HEAD, TAIL = 90, 9  # per fold of 3: 30 head and 3 tail items


def dataset() -> tuple[list[np.ndarray], list[str]]:
    """8x8 images whose pixel (0, 0) holds the class (0 head, 1 tail) and pixel (0, 1) marks the head items a
    balanced CNN gets wrong (one in six)."""
    images, labels = [], []
    for i in range(HEAD + TAIL):
        image = np.zeros((8, 8), dtype=np.uint8)
        tail = i >= HEAD
        image[0, 0] = 255 if tail else 0
        image[0, 1] = 255 if (not tail and i % 6 == 0) else 0
        images.append(image)
        labels.append("tail" if tail else "head")
    return images, labels


class HeadOnly:
    """The head-biased linear stage: always the head class (accuracy 0.91, balanced accuracy 0.5)."""

    def fit(self, X: Any, y: Sequence[str], **_: Any) -> HeadOnly:
        self.classes_ = sorted(set(y))
        return self

    def predict(self, X: Any) -> list[str]:
        return ["head"] * len(X)


class BalancedCNN:
    """The balanced CNN stage: every tail item right, one head item in six wrong (accuracy 0.85, balanced 0.92)."""

    def fit(self, X: Any, y: Sequence[str], **_: Any) -> BalancedCNN:
        self.classes_ = sorted(set(y))
        return self

    def predict(self, X: Sequence[np.ndarray]) -> list[str]:
        return ["tail" if image[0, 0] or image[0, 1] else "head" for image in X]


@pytest.fixture()
def stub_stages(monkeypatch) -> None:
    monkeypatch.setattr(AutoImageLearner, "_linear", lambda self: HeadOnly())
    monkeypatch.setattr(AutoImageLearner, "_cnn", lambda self: BalancedCNN())


@pytest.mark.parametrize(("metric", "chosen"), [("accuracy", "linear"), ("balanced_accuracy", "cnn"),
                                                ("macro_f1", "cnn")])
def test_the_cv_metric_decides_which_stage_serves(stub_stages, metric: str, chosen: str) -> None:
    images, labels = dataset()
    learner = AutoImageLearner(min_cnn_labels=10, cv_metric=metric).fit(images, labels)
    assert learner.chosen_ == chosen, learner.cv_scores_
    if metric == "balanced_accuracy":
        assert learner.cv_scores_ == pytest.approx({"linear": 0.5, "cnn": 1 - 0.5 * 15 / 90})


@pytest.mark.parametrize("method", ["class_weight", "logit_adjusted", "auto"])
def test_balancing_makes_auto_image_select_its_stage_by_balanced_accuracy(stub_stages, method: str) -> None:
    images, labels = dataset()
    ts = prepare_training_set(images, labels, method=method, params={}, learner_name="auto_image",
                              rng=np.random.default_rng(0))
    assert ts.learner_overrides["cv_metric"] == "balanced_accuracy"
    learner = AutoImageLearner(**routed_params(AutoImageLearner, {"min_cnn_labels": 10}, ts.learner_overrides))
    assert learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight).chosen_ == "cnn"


def test_an_explicit_cv_metric_and_no_balancing_keep_their_score(stub_stages) -> None:
    images, labels = dataset()
    explicit = prepare_training_set(images, labels, method="class_weight", params={}, learner_name="auto_image",
                                    rng=np.random.default_rng(0), learner_params={"cv_metric": "accuracy"})
    assert "cv_metric" not in explicit.learner_overrides
    plain = prepare_training_set(images, labels, method=None, params={}, learner_name="auto_image",
                                 rng=np.random.default_rng(0))
    assert "cv_metric" not in plain.learner_overrides
    image = prepare_training_set(images, labels, method="logit_adjusted", params={}, learner_name="image",
                                 rng=np.random.default_rng(0))
    assert "cv_metric" not in image.learner_overrides  # the image learner has no stage to choose


def test_an_unknown_cv_metric_is_refused() -> None:
    images, labels = dataset()
    with pytest.raises(ValueError, match="cv_metric"):
        AutoImageLearner(cv_metric="auc").fit(images, labels)
