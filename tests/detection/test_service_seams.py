"""The detector at the service's seams: one pass over the pool for boxes and embeddings, the stop set served from
that pass, the per-image confidence the pre-annotation gate reads, and the stop-set label of a boxes prediction."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.prediction import Detections
from labelsieve.detection.synthetic import DetectionDataset
from labelsieve.labelconfig import NO_REGION
from labelsieve.service.stopping import stop_label


def test_stop_set_after_ranking_reuses_the_pool_pass(quick_detector: DetectorLearner, shapes: DetectionDataset,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pool = shapes.images[:6]
    detections, embeddings = quick_detector.infer_regions(pool)
    assert len(detections) == 6 and embeddings.shape[0] == 6 and np.isfinite(embeddings).all()
    calls: list[int] = []
    run = quick_detector._run
    monkeypatch.setattr(quick_detector, "_run", lambda im, *more: (calls.append(len(im)), run(im, *more))[1])
    again = quick_detector.predict([pool[4], pool[1], shapes.images[10]])  # two from the pool, one new
    assert calls == [1], "only the image that was not in the ranked pool runs through the detector"
    np.testing.assert_array_equal(again[0].boxes, detections[4].boxes)
    np.testing.assert_array_equal(again[1].scores, detections[1].scores)
    quick_detector.predict([pool[0]])
    assert calls == [1, 1], "the pool's memory is dropped once the stop set used it"


def test_confidence_is_the_least_sure_decision_and_empty_images_use_their_candidates() -> None:
    boxes = np.array([[0, 0, 4, 4], [5, 5, 9, 9]], np.float32)
    sure = Detections(boxes, ["a", "b"], np.array([0.97, 0.02]), width=10, height=10)
    doubtful = Detections(boxes, ["a", "b"], np.array([0.97, 0.55]), width=10, height=10)
    assert sure.confidence == pytest.approx(0.97) and doubtful.confidence == pytest.approx(0.55)
    empty = Detections(np.zeros((0, 4), np.float32), [], np.zeros(0), candidate_background=np.array([0.99, 0.6]))
    assert empty.confidence == pytest.approx(0.6), "the most object-like candidate decides an empty image"


def test_stop_set_label_of_boxes_is_the_classes_shown() -> None:
    found = Detections(np.zeros((3, 4), np.float32), ["disc", "square", "disc"], np.array([0.9, 0.3, 0.8]))
    assert stop_label(found) == "disc"
    assert stop_label(Detections(np.zeros((0, 4), np.float32), [], np.zeros(0))) == NO_REGION
    assert stop_label("cat") == "cat"


def test_diversity_strategies_rank_boxes_on_the_backbone_features(quick_detector: DetectorLearner,
                                                                  shapes: DetectionDataset) -> None:
    from labelsieve.service.ranking import build_context, region_outputs
    from labelsieve.strategies.base import full_ranking
    from labelsieve.strategies.coreset import CoreSet
    from labelsieve.tasktypes.boxes import Boxes

    pool = shapes.images[:8]
    outputs, embeddings, _ = region_outputs(quick_detector, Boxes(), pool)
    np.testing.assert_allclose(embeddings, quick_detector.embed(pool), atol=1e-4)
    ctx = build_context(learner=quick_detector, pool_inputs=pool, labeled_inputs=shapes.images[8:12],
                        labeled_y=shapes.targets[8:12], pool_ids=np.arange(100, 108), seed=0,
                        probas=np.zeros((8, 1)), embeddings=embeddings, task_type=Boxes(),
                        task_uncertainty=Boxes().task_uncertainty(outputs))
    order, _ = full_ranking(CoreSet(), ctx, 3)
    assert sorted(int(i) for i in order) == list(range(8))
    labelled = quick_detector.embed(shapes.images[8:12])
    nearest = np.linalg.norm(embeddings[:, None, :] - labelled[None, :, :], axis=2).min(axis=1)
    assert nearest[int(order[0])] >= nearest.max() - 1e-4, "k-center greedy starts farthest from the labelled features"


def test_box_strategies_rank_the_service_context_and_rare_class_reuses_the_pool_pass(
        quick_detector: DetectorLearner, shapes: DetectionDataset, monkeypatch: pytest.MonkeyPatch,
        tmp_path: object) -> None:
    from pathlib import Path

    from labelsieve.service.ranking import build_context, region_outputs
    from labelsieve.strategies.base import full_ranking
    from labelsieve.strategies.boxes import FlipConsistency, RareClassBoxes
    from labelsieve.tasktypes.boxes import Boxes

    expected = {c: sum(t.labels.count(c) for t in shapes.targets) for c in shapes.classes}
    assert quick_detector.class_counts_ == expected
    quick_detector.save(Path(str(tmp_path)))
    assert DetectorLearner.load(Path(str(tmp_path))).class_counts_ == expected
    pool = shapes.images[:8]
    outputs, embeddings, _ = region_outputs(quick_detector, Boxes(), pool)
    ctx = build_context(learner=quick_detector, pool_inputs=pool, labeled_inputs=shapes.images[8:12],
                        labeled_y=shapes.targets[8:12], pool_ids=np.arange(100, 108), seed=0,
                        probas=np.zeros((8, 1)), embeddings=embeddings, task_type=Boxes(),
                        task_uncertainty=Boxes().task_uncertainty(outputs))
    calls: list[int] = []
    run = quick_detector._run
    monkeypatch.setattr(quick_detector, "_run", lambda im, *more: (calls.append(len(im)), run(im, *more))[1])
    order, _ = full_ranking(RareClassBoxes(), ctx, 3)
    assert sorted(int(i) for i in order) == list(range(8))
    assert calls == [], "rare_class_boxes reads the ranking pass's detections, it does not run the detector again"
    order, _ = full_ranking(FlipConsistency(), ctx, 3)
    assert sorted(int(i) for i in order) == list(range(8)) and sum(calls) == 8, "flip runs the mirrored pool once"
