"""Boxes: ``<RectangleLabels>`` on an ``<Image>`` (object detection).

A region is one box. The target of an annotation is an :class:`~labelsieve.detection.targets.ImageTarget` in pixels
of the original image; bad boxes (rotated, zero area, outside the image, unknown label) are left out and listed in
``target.rejected`` with their reason, the other boxes of the annotation are kept. An annotation with no box is an
empty image (it teaches background), not a missing answer.

Per-task uncertainty aggregates per-box uncertainty (entropy of the box's softmax over background + classes) with
``sum`` (the default: Brust et al. 2019 found it best, and benchmarks/results/detection.md measured it here),
``mean`` or ``max``; an image with no detection gets the object-vs-background entropy of its top candidate regions
(:mod:`labelsieve.detection.uncertainty`). Cost is counted in boxes drawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.etree.ElementTree import Element

import numpy as np

from labelsieve.detection.average_precision import mean_average_precision
from labelsieve.detection.coords import pixels_to_percent
from labelsieve.detection.issues import find_box_issues
from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget, parse_annotation
from labelsieve.detection.uncertainty import AGGREGATIONS, pool_uncertainty
from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.tasktypes.base import TaskLabelIssues, TaskType, UnsupportedTaskType

CONTROL = "rectanglelabels"


@dataclass(frozen=True)
class BoxConfig:
    from_name: str
    to_name: str
    data_key: str
    labels: tuple[str, ...]
    kind: str = "image"


@dataclass
class BoxTarget(ImageTarget):
    """An :class:`ImageTarget` with the regions of the annotation that were left out, and why."""

    rejected: list[Any] | None = None


def _tags(root: Element, name: str) -> list[Element]:
    return [el for el in root.iter() if isinstance(el.tag, str) and el.tag.lower() == name
            and el.get("toName") is not None]


class Boxes(TaskType):
    """Object detection: boxes with one label each on an image. See the module docstring."""

    name: ClassVar[str] = "boxes"
    unit: ClassVar[str] = "boxes"
    aggregations: ClassVar[dict[str, str]] = {
        "sum": "sum of per-box entropies (favours images with many doubtful boxes)",
        "mean": "mean of per-box entropies",
        "max": "entropy of the most doubtful box",
    }
    default_aggregation: ClassVar[str] = "sum"
    refusal_hints: ClassVar[dict[str, str]] = {
        "polygonlabels": "polygons are segmentation: a segmentation task type plugin would serve them; the boxes "
                         "task type serves <RectangleLabels> on <Image> only",
        "brushlabels": "brush masks are segmentation: a segmentation task type plugin would serve them; the boxes "
                       "task type serves <RectangleLabels> on <Image> only",
        "rectangle": "a bare <Rectangle> with separate <Labels> is not read: use <RectangleLabels> (boxes task type)",
    }
    no_region_rule: ClassVar[str] = (
        "an image with no detected box scores the largest object-vs-background entropy among its top 10 candidate "
        "regions: near 0 when the detector is sure the image is empty, near 1 when a candidate is a coin flip")

    def reads(self, root: Element) -> list[Element]:
        return _tags(root, CONTROL)

    def parse_config(self, xml: str) -> BoxConfig:
        from defusedxml import ElementTree as SafeET

        root = SafeET.fromstring(xml)
        controls = _tags(root, CONTROL)
        if len(controls) != 1:
            raise UnsupportedLabelConfig(f"the boxes task type serves exactly one <RectangleLabels>, found "
                                         f"{len(controls)}")
        control = controls[0]
        from_name, to_name = control.get("name"), control.get("toName")
        if not from_name or not to_name or "," in to_name:
            raise UnsupportedLabelConfig("<RectangleLabels> needs a name and one toName")
        objects = [el for el in root.iter() if isinstance(el.tag, str) and el.get("name") == to_name
                   and el is not control]
        if not objects or objects[0].tag.lower() != "image":
            raise UnsupportedLabelConfig(f"<RectangleLabels toName={to_name!r}> must point at an <Image> tag")
        value = (objects[0].get("value") or "").strip()
        if not value.startswith("$") or len(value) < 2:
            raise UnsupportedLabelConfig(f"<Image name={to_name!r}> needs value=\"$variable\"")
        labels = tuple(dict.fromkeys(el.get("value") or el.get("alias") or "" for el in control.iter()
                                     if isinstance(el.tag, str) and el.tag.lower() == "label"))
        if not labels or "" in labels:
            raise UnsupportedLabelConfig(f"<RectangleLabels name={from_name!r}> needs <Label value=...> children")
        return BoxConfig(from_name, to_name, value[1:], labels)

    # ------------------------------------------------------------------------ targets and results
    def target(self, result: list[dict[str, Any]] | None, config: BoxConfig) -> BoxTarget | None:
        if result is None:
            return None
        parsed = parse_annotation(result, from_name=config.from_name, labels=config.labels)
        t = parsed.target
        return BoxTarget(t.boxes, t.labels, t.width, t.height, parsed.rejected)

    def prediction_result(self, config: BoxConfig, output: Detections, *, preannotate: bool,
                          threshold: float = 0.5) -> list[dict[str, Any]]:
        """The boxes scoring at least ``threshold``, each with its ``score`` (the uncertain ones below it still
        count in the task's uncertainty; showing them to annotators would clutter the editor)."""
        if not preannotate or output.width is None or output.height is None:
            return []
        shown = output.above(threshold)
        return [pixels_to_percent(box, label, image_width=output.width, image_height=output.height,
                                  from_name=config.from_name, to_name=config.to_name, score=float(score))
                for box, label, score in zip(shown.boxes, shown.labels, shown.scores, strict=True)]

    def task_uncertainty(self, outputs: Sequence[Detections], aggregation: str | None = None) -> np.ndarray:
        name = aggregation or self.default_aggregation
        if name not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {name!r} for task type {self.name!r}; "
                             f"choose from {sorted(self.aggregations)}")
        return pool_uncertainty(list(outputs), aggregation=name)

    # ---------------------------------------------------------------------- quality and metrics
    def metrics(self, y_true: Sequence[ImageTarget], y_pred: Sequence[Detections],
                labels: Sequence[str]) -> dict[str, float]:
        scores = mean_average_precision(y_true, y_pred, labels)
        out = {"map_50": scores.map_50, "map_50_95": scores.map_50_95}
        out.update({f"ap_50/{name}": value for name, value in scores.ap_50_per_class.items()})
        return out

    def label_issues(self, targets: Sequence[ImageTarget], outputs: Sequence[Detections],
                     labels: Sequence[str]) -> TaskLabelIssues:
        found = find_box_issues(targets, outputs, labels)
        return TaskLabelIssues(1.0 - found.quality, found.flagged, list(outputs), found.quality)

    def balancing_key(self, target: ImageTarget) -> str | None:
        return None  # an image holds several classes: resampling images by one key would distort the others

    # ------------------------------------------------------------------------------- simulation
    def target_from_cell(self, cell: str, config: BoxConfig) -> ImageTarget | None:
        """A CSV cell holding JSON ``[[x1, y1, x2, y2, "label"], ...]`` in pixels (``[]``: an empty image)."""
        if not str(cell).strip():
            return None
        rows = json.loads(cell)
        unknown = sorted({r[4] for r in rows} - set(config.labels))
        if unknown:
            raise ValueError(f"label(s) {unknown} are not in the label config's labels {list(config.labels)}")
        boxes = np.array([r[:4] for r in rows], dtype=np.float32).reshape(-1, 4)
        return ImageTarget(boxes, [str(r[4]) for r in rows])

    def cost(self, target: ImageTarget) -> int:
        return len(target)

    def default_learner(self, config: BoxConfig, base: str, base_params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "detector", {}

    def check_strategy(self, strategy: Any, strategy_name: str) -> None:
        """Refuse every strategy at ``/setup`` for now: the service's retrain, ranking and publisher still handle
        class probabilities only, so a boxes project would be accepted and then fail at its first retrain. The
        refusal says what works today (the detection domain, ``labelsieve simulate --task-type boxes``)."""
        raise UnsupportedTaskType(
            "the live service does not train the boxes task type in the loop yet (its retrain, ranking and "
            "publisher handle class probabilities only); boxes work in `labelsieve simulate --task-type boxes` and "
            "the labelsieve.detection API. See docs/object-detection.md")
