"""The detector trained in the loop: training, per-box distributions, embeddings, save/load, weights, CUDA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from labelsieve.detection.average_precision import mean_average_precision
from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.networks import DetectorBuildError, build_detector
from labelsieve.detection.synthetic import DetectionDataset, make_shapes
from labelsieve.detection.targets import ImageTarget
from labelsieve.learners.base import TrainingDataError


def test_predictions_carry_a_distribution_per_box_and_candidates(quick_detector: DetectorLearner,
                                                                   shapes: DetectionDataset) -> None:
    found, embeddings = quick_detector.infer(shapes.images[:6])
    assert embeddings.shape == (6, 32) and np.isfinite(embeddings).all()
    for d in found:
        assert d.width == 64 and d.height == 64
        assert len(d.candidate_background) > 0
        if len(d):
            assert d.probs.shape == (len(d), 1 + len(shapes.classes))
            np.testing.assert_allclose(d.probs.sum(axis=1), 1.0, atol=1e-4)
            assert (d.boxes >= -1e-3).all() and (d.boxes <= 64 + 1e-3).all()
            np.testing.assert_allclose(d.scores, d.probs[:, 1:].max(axis=1), atol=1e-6)


def test_save_load_predicts_the_same(quick_detector: DetectorLearner, shapes: DetectionDataset,
                                     tmp_path: Path) -> None:
    quick_detector.save(tmp_path)
    loaded = DetectorLearner.load(tmp_path)
    assert loaded.classes_ == quick_detector.classes_ and loaded.get_params() == quick_detector.get_params()
    before, emb_before = quick_detector.infer(shapes.images[:4])
    after, emb_after = loaded.infer(shapes.images[:4])
    np.testing.assert_allclose(emb_after, emb_before, atol=1e-4)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a.candidate_background, b.candidate_background, atol=1e-4)


def test_weights_from_a_local_file_are_loaded(quick_detector: DetectorLearner, tmp_path: Path) -> None:
    quick_detector.save(tmp_path)
    fresh = build_detector("tiny", 5, image_size=64)
    loaded = build_detector("tiny", 5, image_size=64, weights_path=str(tmp_path / "detector.safetensors"))
    trained = quick_detector.model_.state_dict()
    key = "backbone.0.weight"
    assert torch.allclose(loaded.state_dict()[key], trained[key])
    assert not torch.allclose(fresh.state_dict()[key], trained[key])


def test_bad_weights_and_architectures_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DetectorBuildError, match="does not exist"):
        build_detector("tiny", 3, image_size=64, weights_path=str(tmp_path / "missing.safetensors"))
    with pytest.raises(DetectorBuildError, match="unknown detector architecture"):
        build_detector("yolo", 3, image_size=64)
    with pytest.raises(DetectorBuildError, match="no published weights"):
        build_detector("tiny", 3, image_size=64, weights_name="DEFAULT")


def test_torchvision_mobilenet_detector_builds_without_download() -> None:
    model = build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 4, image_size=96)
    assert model.roi_heads.box_predictor.cls_score.out_features == 4


def test_no_box_at_all_is_a_clear_training_error() -> None:
    empty = [ImageTarget.empty(64, 64)] * 2
    with pytest.raises(TrainingDataError, match="no labelled box"):
        DetectorLearner(epochs=1, min_steps=1).fit(make_shapes(2).images, empty, classes=["a"])


@pytest.mark.slow
def test_detector_learns_the_generated_shapes() -> None:
    train, test = make_shapes(60, seed=0), make_shapes(30, seed=1)
    learner = DetectorLearner(epochs=8, min_steps=60, device="cpu").fit(train.images, train.targets,
                                                                        classes=train.classes)
    scores = mean_average_precision(test.targets, learner.predict(test.images), test.classes)
    assert scores.map_50 > 0.3 and scores.map_50_95 < scores.map_50


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_mixed_precision_fit_and_predict(shapes: DetectionDataset) -> None:
    learner = DetectorLearner(epochs=1, min_steps=4, device="cuda").fit(shapes.images, shapes.targets,
                                                                        classes=shapes.classes)
    assert next(learner.model_.parameters()).is_cuda
    found, embeddings = learner.infer(shapes.images[:4])
    assert len(found) == 4 and np.isfinite(embeddings).all()


@pytest.mark.slow
def test_default_recipe_learns_the_rare_class_with_full_data() -> None:
    """The defaults (lr 5e-3, at least 300 steps) on 200 generated images: the common classes and the rare cross
    (26 of 367 training boxes) are both found. The old defaults' 3-epoch benchmark runs left the cross at AP 0."""
    data = make_shapes(300, size=48, seed=2026)
    train, test = data.subset(range(200)), data.subset(range(200, 300))
    assert sum(t.labels.count("cross") for t in train.targets) == 26
    learner = DetectorLearner(epochs=12, image_size=48, device="cpu").fit(train.images, train.targets,
                                                                          classes=train.classes)
    scores = mean_average_precision(test.targets, learner.predict(test.images), test.classes)
    assert scores.map_50 > 0.75
    assert scores.ap_50_per_class["cross"] > 0.3
