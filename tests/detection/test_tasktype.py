"""The boxes task type on the task-type contract: discovery, refusals, targets, results, metrics, label issues."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.prediction import Detections
from labelsieve.detection.synthetic import DetectionDataset
from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.tasktypes import get_task_type, task_type_for

CONFIG = ('<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
          '<Label value="square"/><Label value="disc"/><Label value="triangle"/><Label value="cross"/>'
          '</RectangleLabels></View>')


def test_rectangle_config_is_served_by_boxes() -> None:
    served = task_type_for(CONFIG)
    assert served.name == "boxes"
    assert served.config.labels == ("square", "disc", "triangle", "cross")
    assert served.config.data_key == "image" and served.config.from_name == "box"
    assert served.task_type.default_learner(served.config, "auto_image", {})[0] == "detector"
    assert served.task_type.accepts_learner(DetectorLearner())


@pytest.mark.parametrize("tag", ["PolygonLabels", "BrushLabels"])
def test_polygons_and_brushes_are_refused_naming_segmentation(tag: str) -> None:
    xml = f'<View><Image name="img" value="$image"/><{tag} name="p" toName="img"><Label value="a"/></{tag}></View>'
    with pytest.raises(UnsupportedLabelConfig, match="segmentation task type"):
        task_type_for(xml)
    mixed = CONFIG.replace("</View>", f'<{tag} name="p" toName="img"><Label value="a"/></{tag}></View>')
    with pytest.raises(UnsupportedLabelConfig, match="segmentation task type"):
        task_type_for(mixed)


def test_rectangles_on_text_are_refused() -> None:
    xml = ('<View><Text name="t" value="$text"/><RectangleLabels name="b" toName="t"><Label value="a"/>'
           '</RectangleLabels></View>')
    with pytest.raises(UnsupportedLabelConfig, match="must point at an <Image>"):
        task_type_for(xml)


def test_pushed_boxes_read_back_on_the_same_pixels() -> None:
    served = task_type_for(CONFIG)
    output = Detections(np.array([[3.5, 4.25, 30.0, 41.0], [10, 10, 20, 20]], np.float32), ["disc", "cross"],
                        np.array([0.9, 0.3]), None, np.zeros(0), 64, 48)
    result = served.task_type.prediction_result(served.config, output, preannotate=True, threshold=0.0)
    assert all("score" in r for r in result) and [r["score"] for r in result] == pytest.approx([0.9, 0.3])
    target = served.task_type.target(result, served.config)
    np.testing.assert_allclose(target.boxes, output.boxes, atol=1e-4)
    assert target.labels == ["disc", "cross"] and not target.rejected
    assert served.task_type.prediction_result(served.config, output, preannotate=True) == result[:1]
    assert served.task_type.prediction_result(served.config, output, preannotate=False) == []
    assert served.task_type.cost(target) == 2 and served.task_type.target(None, served.config) is None


def test_target_keeps_good_boxes_and_lists_the_bad() -> None:
    served = task_type_for(CONFIG)
    good = {"from_name": "box", "to_name": "img", "type": "rectanglelabels", "original_width": 64,
            "original_height": 64, "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 0,
                                             "rectanglelabels": ["disc"]}}
    unknown = copy.deepcopy(good)
    unknown["value"]["rectanglelabels"] = ["hexagon"]
    target = served.task_type.target([good, unknown], served.config)
    assert target.labels == ["disc"] and len(target.rejected) == 1 and "hexagon" in target.rejected[0].reason


def test_metrics_and_task_uncertainty(quick_detector: DetectorLearner, shapes: DetectionDataset) -> None:
    boxes = get_task_type("boxes")
    perfect = [Detections(t.boxes, list(t.labels), np.ones(len(t))) for t in shapes.targets]
    scores = boxes.metrics(shapes.targets, perfect, shapes.classes)
    assert scores["map_50"] == pytest.approx(1.0) and scores["map_50_95"] == pytest.approx(1.0)
    found = quick_detector.predict(shapes.images[:5])
    for name in ("sum", "mean", "max"):
        values = boxes.task_uncertainty(found, name)
        assert values.shape == (5,) and np.isfinite(values).all()
    with pytest.raises(ValueError, match="choose from"):
        boxes.task_uncertainty(found, "median")


def test_label_issues_flag_a_swapped_class(shapes: DetectionDataset) -> None:
    boxes = get_task_type("boxes")
    targets = copy.deepcopy([t for t in shapes.targets if len(t)][:12])
    predicted = [Detections(t.boxes.copy(), list(t.labels), np.full(len(t), 0.99)) for t in targets]
    targets[2].labels[0] = next(c for c in shapes.classes if c != targets[2].labels[0])
    issues = boxes.label_issues(targets, predicted, shapes.classes)
    assert issues.flagged[2] and issues.flagged.sum() == 1
    assert issues.issue_score[2] == issues.issue_score.max()


def test_boxes_take_region_and_embedding_strategies_and_refuse_class_probability_ones() -> None:
    from labelsieve.strategies.coreset import CoreSet
    from labelsieve.strategies.task_uncertainty import TaskUncertainty
    from labelsieve.strategies.uncertainty import Margin
    from labelsieve.tasktypes import UnsupportedTaskType

    boxes = get_task_type("boxes")
    assert boxes.default_strategy == "task_uncertainty"
    boxes.check_strategy(TaskUncertainty(), "task_uncertainty")
    boxes.check_strategy(CoreSet(), "coreset")
    with pytest.raises(UnsupportedTaskType, match="'margin' does not support task type 'boxes'"):
        boxes.check_strategy(Margin(), "margin")
