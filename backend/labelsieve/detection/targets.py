"""Annotation results -> detection targets, with bad boxes rejected per annotation and the rest kept."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelsieve.detection.coords import RESULT_TYPE, BoxError, PixelBox, percent_to_pixels

#: Region types another task type serves; named in the refusal so the user knows where to go.
OTHER_REGION_TYPES = {
    "polygonlabels": "segmentation (polygons)",
    "brushlabels": "segmentation (masks)",
    "keypointlabels": "keypoints",
    "ellipselabels": "ellipses",
}


@dataclass
class ImageTarget:
    """The boxes of one image in pixels: ``boxes`` (n, 4) xyxy float32, ``labels`` (n,) class names."""

    boxes: np.ndarray
    labels: list[str]
    width: int | None = None
    height: int | None = None

    @classmethod
    def empty(cls, width: int | None = None, height: int | None = None) -> ImageTarget:
        return cls(np.zeros((0, 4), dtype=np.float32), [], width, height)

    @classmethod
    def from_boxes(cls, boxes: Sequence[PixelBox], width: int | None = None,
                   height: int | None = None) -> ImageTarget:
        if not boxes:
            return cls.empty(width, height)
        array = np.stack([box.as_array() for box in boxes]).astype(np.float32)
        return cls(array, [box.label for box in boxes], width, height)

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[str]:
        """The class name of every box (the service counts labelled boxes per class with it)."""
        return iter(self.labels)


@dataclass
class RejectedBox:
    index: int  # position of the region in the annotation's result list
    reason: str


@dataclass
class ParsedAnnotation:
    target: ImageTarget
    rejected: list[RejectedBox] = field(default_factory=list)


def parse_annotation(
    result: Sequence[dict[str, Any]], *, from_name: str, labels: tuple[str, ...],
) -> ParsedAnnotation:
    """Boxes of one annotation's ``result`` for the control ``from_name``.

    Each bad region (rotated, zero area, outside the image, unknown label, missing image size) is recorded in
    ``rejected`` with its reason and left out; the other boxes of the same annotation are kept. An annotation with
    no region is a valid "nothing to see here" target: an empty image teaches the detector background.
    """
    kept: list[PixelBox] = []
    rejected: list[RejectedBox] = []
    size: tuple[int, int] | None = None
    for index, region in enumerate(result):
        if not isinstance(region, dict):
            rejected.append(RejectedBox(index, f"the region is {type(region).__name__}, not an object"))
            continue
        kind = str(region.get("type", ""))
        if region.get("from_name") != from_name:
            continue  # another control of the same config (e.g. a comment box)
        if kind in OTHER_REGION_TYPES:
            rejected.append(RejectedBox(index, f"{kind} regions are {OTHER_REGION_TYPES[kind]}, not boxes: the "
                                               f"boxes task type reads {RESULT_TYPE} only"))
            continue
        try:
            box = percent_to_pixels(region, labels)
        except BoxError as exc:
            rejected.append(RejectedBox(index, str(exc)))
            continue
        this_size = (int(region["original_width"]), int(region["original_height"]))
        if size is not None and this_size != size:
            rejected.append(RejectedBox(index, f"original size {this_size} differs from the annotation's other "
                                               f"boxes {size}"))
            continue
        size = this_size
        kept.append(box)
    width, height = size if size is not None else (None, None)
    return ParsedAnnotation(ImageTarget.from_boxes(kept, width, height), rejected)


def rescale(target: ImageTarget, width: int, height: int) -> ImageTarget:
    """The target in pixels of an image of ``width`` × ``height`` (the decoded file may differ from the editor's)."""
    if target.width in (None, width) and target.height in (None, height):
        return ImageTarget(target.boxes, list(target.labels), width, height)
    sx, sy = width / float(target.width or width), height / float(target.height or height)
    boxes = target.boxes * np.array([sx, sy, sx, sy], dtype=np.float32)
    return ImageTarget(boxes.astype(np.float32), list(target.labels), width, height)
