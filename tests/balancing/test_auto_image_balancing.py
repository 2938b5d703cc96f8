"""Balancing on ``auto_image`` (the default image learner): sample weights reach its linear stage, torch methods
reach its CNN stage, ``auto`` picks logit adjustment for the CNN and class weights for the linear stage, and /setup
refuses what it cannot use, naming learner and method."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from labelsieve.balancing import auto_method, prepare_training_set
from labelsieve.balancing.stages import routed_params
from labelsieve.learners.auto_image import AutoImageLearner
from labelsieve.learners.image import ImageLearner
from labelsieve.registry import get_registry
from tests.balancing.conftest import long_tail
from tests.factories import IMAGE_CONFIG, setup_payload

P = 64
TAIL = ("3", "7", "8")


def fit_auto_image(images: list[Any], y: list[str], method: str | None, params: dict[str, Any],
                   learner_params: dict[str, Any]) -> AutoImageLearner:
    """As the retrain does: balance, route the overrides into the learner's stages, fit."""
    ts = prepare_training_set(images, y, method=method, params=params, learner_name="auto_image",
                              rng=np.random.default_rng(0))
    learner = get_registry("learners").create(
        "auto_image", routed_params(AutoImageLearner, learner_params, ts.learner_overrides))
    return learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight)


def test_class_weight_raises_tail_recall_of_auto_image(digits) -> None:
    images, labels = digits
    train = long_tail(labels, seed=0, head=60, tail=2, tail_classes=TAIL)
    test = np.setdiff1d(np.arange(len(labels)), train)
    X, y = [images[i] for i in train], labels[train].tolist()
    truth = labels[test]
    recall: dict[str, float] = {}
    for method in (None, "class_weight"):
        learner = fit_auto_image(X, y, method, {}, {})
        predicted = np.asarray(learner.predict([images[i] for i in test]))
        assert learner.chosen_ == "linear"  # 2 labels of a tail class: too few to cross-validate the CNN
        recall[str(method)] = float(np.mean([np.mean(predicted[truth == c] == c) for c in TAIL]))
    assert recall["class_weight"] >= recall["None"] + 0.1, recall
    assert auto_method(y, "auto_image") == "logit_adjusted" and auto_method(y, "image") == "logit_adjusted"
    auto = prepare_training_set(X, y, method="auto", params={}, learner_name="auto_image",
                                rng=np.random.default_rng(0), learner_params={"linear_params": {"C": 0.5}})
    assert auto.learner_overrides["linear_params"] == {"class_weight": "balanced", "C": 0.5}
    assert auto.learner_overrides["loss_tau"] == 1.5 and auto.sample_weight is None
    learner = fit_auto_image(X, y, "auto", {}, {})
    predicted = np.asarray(learner.predict([images[i] for i in test]))
    assert learner.chosen_ == "linear" and learner.model_.class_weight == "balanced"
    auto_recall = float(np.mean([np.mean(predicted[truth == c] == c) for c in TAIL]))
    assert auto_recall >= recall["None"] + 0.1, (auto_recall, recall)


def test_a_torch_loss_reaches_the_cnn_stage_in_cross_validation_and_fit(digits, monkeypatch) -> None:
    images, labels = digits
    train = long_tail(labels, seed=1, head=12, tail=4, tail_classes=TAIL)
    mine = threading.get_ident()
    built: list[dict[str, Any]] = []  # the CNNs fitted by this test's thread (other services' threads may fit too)
    original_fit = ImageLearner.fit

    def recording_fit(self: ImageLearner, *args: Any, **kwargs: Any) -> ImageLearner:
        if threading.get_ident() == mine:
            built.append(self.get_params())
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(ImageLearner, "fit", recording_fit)
    learner = fit_auto_image([images[i] for i in train], labels[train].tolist(), "logit_adjusted+drw",
                             {"loss_tau": 1.5}, {"min_cnn_labels": 20, "cnn_params": {"image_size": 8, "epochs": 2}})
    assert set(learner.cv_scores_) == {"linear", "cnn"}  # the CNN was scored against the linear model
    assert len(built) >= learner.cv_folds
    assert all(p["loss"] == "logit_adjusted" and p["loss_tau"] == 1.5 and p["drw_start"] == 0.6
               and p["image_size"] == 8 and p["epochs"] == 2 for p in built), built


@pytest.mark.parametrize("method", ["logit_adjusted", "class_weight+augment", "crt", "auto"])
def test_setup_accepts_methods_auto_image_can_use(client, method) -> None:
    assert client.app.state.service.plugins_ready.wait(120)  # the full check (the light one only reads names)
    response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, {"learner": "auto_image",
                                                                         "balancing": method}))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("method", ["logit_adjusted_cv", "smote"])
def test_setup_refuses_a_method_auto_image_cannot_use_naming_learner_and_method(client, method) -> None:
    assert client.app.state.service.plugins_ready.wait(120)
    response = client.post("/setup", json=setup_payload(P, IMAGE_CONFIG, {"learner": "auto_image",
                                                                         "balancing": method}))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert f"'{method}'" in detail and "learner 'auto_image'" in detail, detail
