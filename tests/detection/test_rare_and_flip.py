"""Rare-class selection by predicted class counts, and flip consistency (localisation stability)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from labelsieve.detection.flip import flip_disagreement, mirror
from labelsieve.detection.prediction import Detections
from labelsieve.detection.uncertainty import pool_uncertainty
from labelsieve.strategies.base import PoolContext
from labelsieve.strategies.boxes import FlipConsistency, RareClassBoxes
from labelsieve.strategies.task_uncertainty import TaskUncertainty
from labelsieve.testing import check_task_types


def one_box(label: str, p: float, box: tuple[float, ...] = (2, 2, 12, 12)) -> Detections:
    probs = np.zeros((1, 3))
    probs[0, 0], probs[0, 1 + ["a", "b"].index(label)] = 1 - p, p
    return Detections(np.array([box], dtype=np.float32), [label], np.array([p]), probs, np.array([1 - p]), 32, 32)


class FixedDetector:
    """A detector double: the detections of pool item i are ``outputs[i]`` (items are their indices)."""

    classes_ = ["a", "b"]

    def __init__(self, outputs: list[Detections], counts: dict[str, int]) -> None:
        self.outputs, self.class_counts_ = outputs, counts

    def predict_regions(self, items: list[Any]) -> list[Detections]:
        return [self.outputs[int(i)] for i in items]


def context(learner: Any, pool: list[Any], uncertainty: np.ndarray | None = None) -> PoolContext:
    return PoolContext(pool=pool, learner=learner, rng=np.random.default_rng(0), classes=("a", "b"),
                       task_type="boxes", task_uncertainty=uncertainty)


def test_rare_predicted_class_is_picked_more_often_than_by_the_plain_sum() -> None:
    # 12 images with a doubtful common box (p=0.6), 8 with a less doubtful box of class "b" (p=0.8): the plain sum
    # serves the common ones first; "b" has 1 labelled box against 60 of "a", so the rare ones should come first
    outputs = [one_box("a", 0.6) for _ in range(12)] + [one_box("b", 0.8) for _ in range(8)]
    learner = FixedDetector(outputs, {"a": 60, "b": 1})
    ctx = context(learner, list(range(20)), pool_uncertainty(outputs))
    rare = set(range(12, 20))
    plain = TaskUncertainty().select(ctx, 6)
    balanced = RareClassBoxes().select(context(learner, list(range(20)), pool_uncertainty(outputs)), 6)
    assert len(rare & set(plain.tolist())) == 0
    assert len(rare & set(balanced.tolist())) == 6


def test_rare_class_boxes_keeps_the_uncertainty_order_when_classes_are_balanced() -> None:
    outputs = [one_box("a", 0.6), one_box("b", 0.9), one_box("a", 0.95)]
    learner = FixedDetector(outputs, {"a": 30, "b": 30})
    order = RareClassBoxes().select(context(learner, [0, 1, 2], pool_uncertainty(outputs)), 3)
    assert order.tolist() == [0, 1, 2]


def test_mirror_round_trip_and_agreeing_passes_score_zero() -> None:
    found = one_box("a", 0.9, (2, 4, 12, 20))
    back = mirror(mirror(found, 32), 32)
    np.testing.assert_allclose(back.boxes, found.boxes)
    np.testing.assert_allclose(mirror(found, 32).boxes, [[20, 4, 30, 20]])
    assert flip_disagreement(found, found) == pytest.approx(0.0, abs=1e-6)
    assert flip_disagreement(found, Detections(np.zeros((0, 4)), [], np.zeros(0), np.zeros((0, 3)))) == 1.0
    shifted = one_box("b", 0.9, (12, 4, 22, 20))  # other class, half the width overlapping
    assert flip_disagreement(found, shifted) > 0.5


def square(x: int, marker: bool) -> Image.Image:
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[8:18, x:x + 10, 1] = 255
    if marker:
        pixels[0, 0, 0] = 255
    return Image.fromarray(pixels)


class ImageDetector:
    """A detector double that finds the green square; on an image whose red marker sits in the top-right corner
    (the mirror of one marked in the top-left) it misplaces the box by 8 pixels, i.e. it is unstable there."""

    classes_ = ["a", "b"]

    def predict_regions(self, images: list[Image.Image]) -> list[Detections]:
        out = []
        for image in images:
            pixels = np.asarray(image)
            ys, xs = np.nonzero(pixels[:, :, 1])
            box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            if pixels[0, 31, 0]:
                box[0] += 8
                box[2] += 8
            out.append(one_box("a", 0.9, tuple(float(v) for v in box)))
        return out


def test_flip_consistency_ranks_the_unstable_image_first() -> None:
    pool = [square(2, False), square(10, False), square(6, True), square(16, False)]
    scores = FlipConsistency().score(context(ImageDetector(), pool))
    assert int(np.argmax(scores)) == 2
    assert scores[2] > 0.2 and np.all(np.delete(scores, 2) < 1e-6)


@pytest.mark.slow
def test_conformance_on_the_boxes_context() -> None:
    assert check_task_types(RareClassBoxes) == ["boxes"]
    assert check_task_types(FlipConsistency) == ["boxes"]
