"""Label Studio percentages <-> pixels, and bad boxes rejected per annotation with the rest kept."""

from __future__ import annotations

import numpy as np
import pytest

from labelsieve.detection.coords import BoxError, percent_to_pixels, pixels_to_percent
from labelsieve.detection.targets import ImageTarget, parse_annotation, rescale

LABELS = ("car", "person")


def region(x: float, y: float, w: float, h: float, label: str = "car", *, rotation: float = 0, width: int = 640,
           height: int = 480, kind: str = "rectanglelabels") -> dict:
    return {"from_name": "box", "to_name": "img", "type": kind, "original_width": width, "original_height": height,
            "image_rotation": 0, "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation,
                                           kind: [label]}}


def test_round_trip_lands_on_the_same_pixels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        width, height = int(rng.integers(16, 4000)), int(rng.integers(16, 4000))
        x1, y1 = rng.uniform(0, width - 2), rng.uniform(0, height - 2)
        x2, y2 = rng.uniform(x1 + 1, width), rng.uniform(y1 + 1, height)
        item = pixels_to_percent((x1, y1, x2, y2), "car", image_width=width, image_height=height,
                                 from_name="box", to_name="img", score=0.25)
        assert item["score"] == 0.25 and item["original_width"] == width
        back = percent_to_pixels(item, LABELS)
        np.testing.assert_allclose(back.as_array(), [x1, y1, x2, y2], rtol=0, atol=1e-6 * max(width, height))


def test_percentages_scale_by_the_original_size() -> None:
    box = percent_to_pixels(region(10, 20, 50, 25))
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((64, 96, 384, 216))


@pytest.mark.parametrize(("bad", "reason"), [
    (region(10, 10, 20, 20, rotation=30), "rotated by 30"),
    (region(10, 10, 0, 20), "zero area"),
    (region(90, 10, 20, 20), "outside the image"),
    (region(-5, 10, 20, 20), "outside the image"),
    (region(10, 10, 20, 20, "truck"), "'truck' is not one of"),
    ({**region(10, 10, 20, 20), "original_width": None}, "original_width"),
])
def test_bad_box_is_refused_with_its_reason(bad: dict, reason: str) -> None:
    with pytest.raises(BoxError, match=reason):
        percent_to_pixels(bad, LABELS)


def test_bad_boxes_are_rejected_per_annotation_and_the_rest_kept() -> None:
    result = [region(10, 10, 20, 20), region(10, 10, 0, 5), region(50, 50, 10, 10, "person"),
              region(10, 10, 20, 20, "truck"), region(5, 5, 10, 10, rotation=45),
              region(1, 1, 5, 5, kind="polygonlabels"),
              {"from_name": "comment", "type": "textarea", "value": {"text": ["ok"]}}]
    parsed = parse_annotation(result, from_name="box", labels=LABELS)
    assert parsed.target.labels == ["car", "person"]
    assert parsed.target.boxes.shape == (2, 4)
    reasons = {r.index: r.reason for r in parsed.rejected}
    assert set(reasons) == {1, 3, 4, 5}  # the textarea of another control is not ours: ignored
    assert "zero area" in reasons[1] and "truck" in reasons[3] and "rotated" in reasons[4]


def test_polygon_region_of_the_same_control_names_segmentation() -> None:
    polygon = {**region(1, 1, 5, 5), "type": "polygonlabels"}
    parsed = parse_annotation([polygon, region(10, 10, 20, 20)], from_name="box", labels=LABELS)
    assert parsed.target.labels == ["car"]
    assert "segmentation" in parsed.rejected[0].reason


def test_empty_annotation_is_an_empty_image_not_an_error() -> None:
    parsed = parse_annotation([], from_name="box", labels=LABELS)
    assert len(parsed.target) == 0 and parsed.target.boxes.shape == (0, 4) and not parsed.rejected


def test_rescale_to_the_decoded_image_size() -> None:
    target = ImageTarget(np.array([[64, 96, 384, 216]], np.float32), ["car"], 640, 480)
    np.testing.assert_allclose(rescale(target, 320, 240).boxes, [[32, 48, 192, 108]], atol=1e-4)
