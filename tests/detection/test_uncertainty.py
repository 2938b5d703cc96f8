"""Per-box uncertainty, the sum / mean / max aggregations, and the rule for an image with no detection."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.detection.prediction import Detections
from labelsieve.detection.uncertainty import (
    EMPTY_WITHOUT_CANDIDATES,
    box_uncertainty,
    image_uncertainty,
    label_studio_example_score,
    pool_uncertainty,
)


def dets(probs: list[list[float]], candidates: list[float] | None = None) -> Detections:
    p = np.array(probs, dtype=np.float64).reshape(-1, 3)
    return Detections(np.tile([0, 0, 10, 10], (len(p), 1)).astype(np.float32), ["a"] * len(p),
                      p[:, 1:].max(axis=1) if len(p) else np.zeros(0), p,
                      np.array(candidates if candidates is not None else [0.99]), 64, 64)


SURE = [0.0, 1.0, 0.0]
DOUBT = [1 / 3, 1 / 3, 1 / 3]
HALF = [0.5, 0.5, 0.0]


def test_box_entropy_and_margin() -> None:
    values = box_uncertainty(dets([SURE, DOUBT, HALF]), "entropy")
    np.testing.assert_allclose(values, [0.0, 1.0, np.log(2) / np.log(3)], atol=1e-6)
    np.testing.assert_allclose(box_uncertainty(dets([SURE, DOUBT, HALF]), "margin"), [0.0, 1.0, 1.0], atol=1e-6)


def test_aggregations_differ_as_documented() -> None:
    crowded = dets([HALF, HALF, HALF, SURE])
    single = dets([DOUBT])
    h = np.log(2) / np.log(3)
    assert image_uncertainty(crowded, aggregation="sum") == pytest.approx(3 * h, abs=1e-6)
    assert image_uncertainty(crowded, aggregation="mean") == pytest.approx(0.75 * h, abs=1e-6)
    assert image_uncertainty(crowded, aggregation="max") == pytest.approx(h, abs=1e-6)
    # sum favours the crowded image, max and mean the single doubtful box
    assert image_uncertainty(crowded, aggregation="sum") > image_uncertainty(single, aggregation="sum")
    assert image_uncertainty(crowded, aggregation="max") < image_uncertainty(single, aggregation="max")
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        image_uncertainty(crowded, aggregation="median")


def test_empty_image_scores_by_its_candidates_not_a_placeholder() -> None:
    sure_empty = dets([], candidates=[0.999, 0.998])
    coin_flip = dets([], candidates=[0.999, 0.5])
    low, high = pool_uncertainty([sure_empty, coin_flip])
    assert low < 0.05 and high == pytest.approx(1.0, abs=1e-6)
    # a coin-flip empty image ranks above an image with one confident box, below a crowded doubtful one
    assert pool_uncertainty([dets([SURE])])[0] < high < pool_uncertainty([dets([HALF, HALF, DOUBT])])[0]
    foreign_empty = Detections(np.zeros((0, 4)), [], np.zeros(0))
    assert image_uncertainty(foreign_empty) == EMPTY_WITHOUT_CANDIDATES


def test_scores_only_boxes_of_a_foreign_backend() -> None:
    foreign = Detections(np.zeros((3, 4)), ["a", "b", "a"], np.array([0.5, 0.99, 0.01]))
    np.testing.assert_allclose(box_uncertainty(foreign, "entropy")[0], 1.0)
    assert box_uncertainty(foreign, "entropy")[1] < 0.1 and box_uncertainty(foreign, "margin")[2] < 0.05


def test_label_studio_example_rule_serves_empty_images_first() -> None:
    assert label_studio_example_score(Detections(np.zeros((0, 4)), [], np.zeros(0))) == 0.0
    assert label_studio_example_score(Detections(np.zeros((3, 4)), ["a"] * 3, np.array([0.9, 0.6, 0.3]))) == \
        pytest.approx(0.75)


def test_observer_ranks_another_backends_scored_boxes() -> None:
    from labelsieve.detection.coords import pixels_to_percent
    from labelsieve.detection.observer import observer_uncertainty

    def result(scores: list[float]) -> list[dict]:
        return [pixels_to_percent((1, 1, 20, 20), "car", image_width=64, image_height=64, from_name="box",
                                  to_name="img", score=s) for s in scores]

    ranked = observer_uncertainty([result([0.99]), result([0.5, 0.6]), result([])], from_name="box",
                                  labels=("car",))
    assert ranked[1] > ranked[0] and ranked[2] == EMPTY_WITHOUT_CANDIDATES
    unscored = [[{k: v for k, v in r.items() if k != "score"} for r in result([0.9])]]
    with pytest.raises(ValueError, match="no per-box score"):
        observer_uncertainty(unscored, from_name="box")


def test_rare_predicted_class_raises_the_weight() -> None:
    from labelsieve.detection.selection import rare_class_weight

    common = Detections(np.zeros((1, 4)), ["a"], np.array([0.9]), np.array([[0.1, 0.9, 0.0]]))
    rare = Detections(np.zeros((1, 4)), ["b"], np.array([0.9]), np.array([[0.1, 0.0, 0.9]]))
    empty = Detections(np.zeros((0, 4)), [], np.zeros(0))
    w_common, w_rare, w_empty = rare_class_weight([common, rare, empty], {"a": 50, "b": 1}, ["a", "b"])
    assert w_rare == pytest.approx(1 + 0.9 * 4.0) and w_common == pytest.approx(1 + 0.9 * 0.5) and w_empty == 1.0


def test_diverse_selection_spreads_over_the_embedding() -> None:
    from labelsieve.detection.selection import select_diverse

    priority = np.array([1.0, 0.99, 0.98, 0.5, 0.1, 0.05, 0.01])
    embeddings = np.array([[0, 0], [0, 0.01], [5, 5], [0.01, 0], [1, 1], [2, 2], [100, 100]], dtype=float)
    # the near-duplicate 1 is skipped for 2; 6 is farthest but not among the 3 x 2 most uncertain
    assert list(select_diverse(priority, embeddings, 2)) == [0, 2]
