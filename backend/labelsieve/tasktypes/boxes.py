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
from labelsieve.tasktypes.base import (
    GATE_MIN_PER_CLASS,
    GATE_MIN_SKILL,
    IssueGate,
    RejectedRegion,
    TaskLabelIssues,
    TaskType,
    judge_gate,
)
from labelsieve.tasktypes.region_config import RegionConfig

CONTROL = "rectanglelabels"
#: a box whose swap / bad-location / overlooked score (cleanlab object_detection.rank) is under this is an issue
BOX_THRESHOLD = 0.3


@dataclass(frozen=True)
class BoxConfig(RegionConfig):
    kind: str = "image"

    @property
    def result_type(self) -> str:
        return CONTROL

    def region_labels(self, result: list[dict[str, Any]]) -> set[str]:
        return set(parse_annotation(result, from_name=self.from_name, labels=self.labels).target.labels)


@dataclass
class BoxTarget(ImageTarget):
    """An :class:`ImageTarget` with the regions of the annotation that were left out, and why."""

    rejected: list[Any] | None = None


def _tags(root: Element, name: str) -> list[Element]:
    return [el for el in root.iter() if isinstance(el.tag, str) and el.tag.lower() == name
            and el.get("toName") is not None]


def _box_name(result: list[Any], index: int) -> str:
    region = result[index] if 0 <= index < len(result) else None
    value = region.get("value") if isinstance(region, dict) else None
    labels = value.get("rectanglelabels") if isinstance(value, dict) else None
    names = [str(x) for x in labels] if isinstance(labels, list) else []
    return f"box {index}" + (f" ({', '.join(names)})" if names else "")


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
    default_strategy: ClassVar[str | None] = "task_uncertainty"  # ranks by the default aggregation, sum
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

    def rejected_regions(self, result: list[dict[str, Any]] | None, config: BoxConfig,
                         data: dict[str, Any] | None = None) -> list[RejectedRegion]:
        """Boxes outside the image, of zero area, rotated or with a label the config lacks, each with its reason."""
        regions = list(result or [])
        target = self.target(regions, config)
        return [RejectedRegion(_box_name(regions, r.index), r.reason) for r in (target.rejected or [])] \
            if target is not None else []

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
        found = find_box_issues(targets, outputs, labels, box_threshold=BOX_THRESHOLD)
        reasons = [box_reason(t, o, per_box) for t, o, per_box in zip(targets, outputs, found.per_box, strict=True)]
        return TaskLabelIssues(1.0 - found.quality, found.flagged, list(outputs), found.quality, reasons)

    def issue_outputs(self, learner: Any, inputs: Sequence[Any], labels: Sequence[str]) -> list[Detections]:
        """The fold detector's boxes (``predict_regions`` when the learner has it, else its ``predict``)."""
        regions = getattr(learner, "predict_regions", None)
        return list(regions(inputs) if callable(regions) else learner.predict(inputs))

    def issue_gate(self, targets: Sequence[ImageTarget], outputs: Sequence[Detections],
                   labels: Sequence[str]) -> IssueGate:
        """The rarest class drawn at least 20 times, and out-of-fold mAP@0.5 at least halfway from the trivial
        detector (no box: AP 0) to 1, i.e. 0.5."""
        drawn = [label for t in targets for label in t.labels]
        value = self.metrics(targets, outputs, labels)["map_50"] if drawn else 0.0
        return judge_gate(measure="out-of-fold mAP@0.5", value=float(value), level=GATE_MIN_SKILL,
                          smallest=min((drawn.count(label) for label in set(drawn)), default=0),
                          min_count=GATE_MIN_PER_CLASS, unit="boxes")

    def describe(self, target: ImageTarget | Detections) -> str:
        shown = target.above(0.5) if isinstance(target, Detections) else target
        if not len(shown.labels):
            return "no box"
        counts = {label: shown.labels.count(label) for label in dict.fromkeys(shown.labels)}
        return f"{len(shown.labels)} box(es): " + ", ".join(f"{label} x{n}" for label, n in counts.items())

    def review_result(self, config: BoxConfig, output: Detections) -> list[dict[str, Any]]:
        """The out-of-fold detector's boxes scoring at least 0.5, in percent of the image."""
        return self.prediction_result(config, output, preannotate=True)

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
        """The torchvision detector with the project's ``learner_params`` (not the image encoder the service picks
        for the classification learners: the detector has its own backbone)."""
        return "detector", {k: v for k, v in base_params.items() if k != "encoder"}


def _where(box: np.ndarray) -> str:
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    return f"[{x1},{y1},{x2},{y2}] px"


def _seen(box: np.ndarray, output: Detections) -> str:
    """" the model sees 'X' there" for the predicted box overlapping ``box`` most (IoU >= 0.5), else ""."""
    if not len(output.labels):
        return ""
    boxes = np.asarray(output.boxes, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(boxes[:, 0], box[0])
    y1 = np.maximum(boxes[:, 1], box[1])
    x2 = np.minimum(boxes[:, 2], box[2])
    y2 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    iou = inter / np.where(union > 0, union, 1.0)
    best = int(np.argmax(iou))
    return f" the model sees {output.labels[best]!r} there" if iou[best] >= 0.5 else ""


def box_reason(target: ImageTarget, output: Detections, per_box: dict[str, np.ndarray]) -> str:
    """The boxes of one image cleanlab's object-detection scores put under :data:`BOX_THRESHOLD`: a labelled box
    whose class looks swapped (with the out-of-fold model's class there), a labelled box badly located, and a box
    the model finds that nobody drew (overlooked)."""
    parts = []
    for k in np.flatnonzero(per_box["swap"] < BOX_THRESHOLD):
        seen = _seen(target.boxes[k], output)
        parts.append(f"box {target.labels[k]!r} at {_where(target.boxes[k])}: swapped class?{seen}"
                     f" (swap score {per_box['swap'][k]:.2f})")
    for k in np.flatnonzero(per_box["badloc"] < BOX_THRESHOLD):
        parts.append(f"box {target.labels[k]!r} at {_where(target.boxes[k])}: bad location "
                     f"(score {per_box['badloc'][k]:.2f})")
    for k in np.flatnonzero(per_box["overlooked"] < BOX_THRESHOLD):
        label = output.labels[k] if k < len(output.labels) else "object"
        where = _where(output.boxes[k]) if k < len(output.boxes) else ""
        parts.append(f"overlooked {label!r} at {where} (score {per_box['overlooked'][k]:.2f})")
    return "; ".join(parts)
