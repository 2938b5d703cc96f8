"""Label Studio ``rectanglelabels`` regions <-> pixel boxes.

Label Studio stores a rectangle as ``x``, ``y``, ``width``, ``height`` in percent (0-100) of the image it was drawn
on, plus ``original_width`` / ``original_height`` in pixels. labelsieve works in pixel ``(x1, y1, x2, y2)`` boxes of the
original image (torchvision's convention). Rotated rectangles are refused: an axis-aligned detector cannot learn
them and turning them into their bounding box would silently move what the annotator drew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RESULT_TYPE = "rectanglelabels"


class BoxError(ValueError):
    """One region cannot be used as a training box; the message names the reason."""


@dataclass(frozen=True)
class PixelBox:
    """An axis-aligned box in pixels of the original image, ``x1 < x2`` and ``y1 < y2``."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str

    def as_array(self) -> np.ndarray:
        return np.array([self.x1, self.y1, self.x2, self.y2], dtype=np.float64)


def _number(value: dict[str, Any], key: str) -> float:
    raw = value.get(key)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not np.isfinite(raw):
        raise BoxError(f"value.{key} is {raw!r}, not a finite number")
    return float(raw)


def image_size_of(region: dict[str, Any]) -> tuple[int, int]:
    """``(original_width, original_height)`` of a region, or :class:`BoxError` when missing or not positive."""
    width, height = region.get("original_width"), region.get("original_height")
    for name, size in (("original_width", width), ("original_height", height)):
        if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0:
            raise BoxError(f"{name} is {size!r}: Label Studio writes the image size in pixels beside every box, "
                           "and labelsieve needs it to turn percentages into pixels")
    return int(width), int(height)  # type: ignore[arg-type]


def percent_to_pixels(region: dict[str, Any], labels: tuple[str, ...] | None = None) -> PixelBox:
    """The pixel box of one ``rectanglelabels`` result item, or :class:`BoxError` naming what is wrong.

    Refused: rotation other than 0, a box with zero width or height, a box that lies (even partly) outside the
    image by more than rounding, no label or several labels, and a label missing from ``labels`` when given.
    """
    if region.get("type", RESULT_TYPE) != RESULT_TYPE:
        raise BoxError(f"result type {region.get('type')!r} is not {RESULT_TYPE!r}")
    value = region.get("value")
    if not isinstance(value, dict):
        raise BoxError("the region has no value object")
    rotation = value.get("rotation", 0) or 0
    if not isinstance(rotation, int | float) or abs(float(rotation)) > 1e-6:
        raise BoxError(f"the box is rotated by {rotation!r} degrees; labelsieve's detectors learn axis-aligned boxes "
                       "only: set rotation to 0 in the editor (or disable rotation with canRotate=\"false\")")
    names = value.get(RESULT_TYPE)
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        raise BoxError(f"the box needs exactly one label, has {names!r}")
    label = names[0]
    if labels is not None and label not in labels:
        raise BoxError(f"label {label!r} is not one of the label config's labels {list(labels)!r}")
    width_px, height_px = image_size_of(region)
    x, y, w, h = (_number(value, key) for key in ("x", "y", "width", "height"))
    if w <= 0 or h <= 0:
        raise BoxError(f"the box has zero area (width {w}%, height {h}%)")
    tolerance = 1e-3  # percent: Label Studio rounds, a box flush with the border may read 100.0000001
    if x < -tolerance or y < -tolerance or x + w > 100 + tolerance or y + h > 100 + tolerance:
        raise BoxError(f"the box (x={x}%, y={y}%, width={w}%, height={h}%) lies outside the image")
    x1 = max(0.0, x) * width_px / 100.0
    y1 = max(0.0, y) * height_px / 100.0
    x2 = min(100.0, x + w) * width_px / 100.0
    y2 = min(100.0, y + h) * height_px / 100.0
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        raise BoxError("the box has zero area in pixels")
    return PixelBox(x1, y1, x2, y2, label)


def pixels_to_percent(
    box: np.ndarray | tuple[float, float, float, float], label: str, *, image_width: int, image_height: int,
    from_name: str, to_name: str, score: float | None = None,
) -> dict[str, Any]:
    """A Label Studio ``rectanglelabels`` result item for a pixel box (clipped to the image)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = max(0.0, min(x1, image_width)), max(0.0, min(x2, image_width))
    y1, y2 = max(0.0, min(y1, image_height)), max(0.0, min(y2, image_height))
    item: dict[str, Any] = {
        "from_name": from_name, "to_name": to_name, "type": RESULT_TYPE,
        "original_width": int(image_width), "original_height": int(image_height), "image_rotation": 0,
        "value": {
            "x": 100.0 * x1 / image_width, "y": 100.0 * y1 / image_height,
            "width": 100.0 * (x2 - x1) / image_width, "height": 100.0 * (y2 - y1) / image_height,
            "rotation": 0, RESULT_TYPE: [label],
        },
    }
    if score is not None:
        item["score"] = float(score)
    return item
