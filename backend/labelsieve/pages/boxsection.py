"""The page section of a boxes project: per-class AP and a few thumbnails with the predicted boxes drawn.

Per-class AP is prequential, like the rest of the page: each labelled image is scored against the boxes that the
model serving when its label came (``Annotation.predicted_version``) had predicted for it in that version's stored
ranking, with pycocotools as
:func:`labelsieve.detection.average_precision.mean_average_precision` computes it. The stored
regions are the boxes scored at least 0.5 (what annotators would see), so recall stops there and AP reads a little
lower than over every candidate box. No model runs for the page.

The thumbnails are the head of the queue: the image fetched as the other previews are, the stored predicted boxes
drawn on it with their label and score.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from labelsieve.detection.average_precision import mean_average_precision
from labelsieve.detection.coords import BoxError, percent_to_pixels
from labelsieve.detection.prediction import Detections
from labelsieve.detection.targets import ImageTarget
from labelsieve.pages.sections import esc, table
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope

#: images drawn at the head of the queue, and their longest side in pixels
THUMBNAILS = 6
THUMB_SIDE = 160
#: at most this many older versions' rankings are read for the prequential AP
MAX_VERSIONS = 8
PALETTE = ((230, 57, 70), (42, 157, 143), (233, 196, 106), (69, 123, 157), (244, 162, 97), (131, 56, 236))


def detections_of(regions: Sequence[dict[str, Any]], labels: tuple[str, ...]) -> Detections:
    """Stored Label Studio regions back to pixel boxes with their scores (regions that do not read are left out)."""
    boxes, names, scores, size = [], [], [], (None, None)
    for region in regions:
        try:
            box = percent_to_pixels(region, labels)
        except BoxError:
            continue
        boxes.append(box.as_array())
        names.append(box.label)
        scores.append(float(region.get("score", 1.0)))
        size = (int(region["original_width"]), int(region["original_height"]))
    array = np.stack(boxes).astype(np.float32) if boxes else np.zeros((0, 4), dtype=np.float32)
    return Detections(array, names, np.array(scores, dtype=np.float64), width=size[0], height=size[1])


def prequential_pairs(engine: Any, project_id: int, config: Any, task_type: Any) -> list[tuple[ImageTarget,
                                                                                                 Detections]]:
    """(the label, what the serving model had predicted for it) for every labelled image whose version's ranking
    holds it."""
    with session_scope(engine) as session:
        examples = crud.labeled_examples(session=session, project_id=project_id)
        by_version: dict[str, list[tuple[int, Any]]] = {}
        for task, annotation in examples:
            if annotation.predicted_version:
                by_version.setdefault(annotation.predicted_version, []).append((int(task.id), annotation))
        pairs = []
        for version in sorted(by_version)[-MAX_VERSIONS:]:
            ranking = rankings.ranking_of(session=session, project_id=project_id, version=version)
            if ranking is None or ranking.regions is None:
                continue
            rank_of = {int(t): r for r, t in enumerate(ranking.task_ids.tolist())}
            for task_id, annotation in by_version[version]:
                target = task_type.target(annotation.result, config)
                if target is None or task_id not in rank_of:
                    continue
                pairs.append((target, detections_of(ranking.regions[rank_of[task_id]], config.labels)))
    return pairs


def per_class_ap(pairs: Sequence[tuple[ImageTarget, Detections]], labels: Sequence[str]) -> dict[str, Any] | None:
    """mAP@0.5, mAP@0.5:0.95 and AP@0.5 per class (pycocotools), or None when no labelled box was scored yet."""
    truth = [t for t, _ in pairs]
    if not any(len(t) for t in truth):
        return None
    scores = mean_average_precision(truth, [d for _, d in pairs], labels)
    boxes = {name: sum(t.labels.count(name) for t in truth) for name in labels}
    return {"map_50": scores.map_50, "map_50_95": scores.map_50_95, "images": len(pairs),
            "per_class": {name: (scores.ap_50_per_class.get(name, float("nan")), boxes[name]) for name in labels}}


def draw_boxes(image: Image.Image, found: Detections, labels: Sequence[str]) -> str:
    """A PNG data URI of ``image`` (longest side :data:`THUMB_SIDE`) with the boxes, label and score drawn."""
    picture = image.convert("RGB")
    scale = THUMB_SIDE / max(picture.size)
    picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                             Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BILINEAR)
    sx = picture.width / float(found.width or image.width)
    sy = picture.height / float(found.height or image.height)
    draw = ImageDraw.Draw(picture)
    for box, name, score in zip(found.boxes, found.labels, found.scores, strict=True):
        colour = PALETTE[list(labels).index(name) % len(PALETTE)] if name in labels else PALETTE[0]
        x1, y1, x2, y2 = float(box[0]) * sx, float(box[1]) * sy, float(box[2]) * sx, float(box[3]) * sy
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=2)
        draw.text((x1 + 2, max(0.0, y1 - 11)), f"{name} {score:.2f}", fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnails(queue: Sequence[Any], regions_of: dict[int, list[dict]], config: Any, fetcher: Any) -> list[str]:
    """Figures for the head of the queue: each image with its predicted boxes, or a note saying why it is missing."""
    figures = []
    for item in list(queue)[:THUMBNAILS]:
        found = detections_of(regions_of.get(item.task_id, []), config.labels)
        ref = item.data.get(config.data_key)
        try:
            uri = draw_boxes(fetcher.load_image(str(ref)), found, config.labels)
            body = f'<img src="{uri}" alt="task {item.task_id} with {len(found)} predicted box(es)">'
        except Exception as exc:  # noqa: BLE001 - an image that does not load is a note, not a broken page
            body = f'<p class="empty">{esc(f"{type(exc).__name__}: {exc}")}</p>'
        figures.append(f'<figure class="boxes">{body}<figcaption>task {item.task_id} &middot; rank {item.rank + 1}'
                       f" &middot; {len(found)} box(es)</figcaption></figure>")
    return figures


def boxes_section(service: Any, view: Any) -> str | None:
    """The section's HTML for a boxes project (None for any other task type)."""
    project = view.project
    served = service.loop.served(project.label_config)
    if served.name != "boxes":
        return None
    config = served.config
    ap = per_class_ap(prequential_pairs(service.engine, project.id, config, served.task_type), config.labels)
    parts = []
    if ap is None:
        parts.append('<p class="empty">No average precision yet: labels that arrive while a detector serves are '
                     "scored against the boxes it had predicted for them (prequential).</p>")
    else:
        rows = [[esc(name), "–" if np.isnan(value) else f"{value:.3f}", str(count)]
                for name, (value, count) in ap["per_class"].items()]
        parts.append(f"<p>Prequential mAP@0.5 <b>{ap['map_50']:.3f}</b> &middot; mAP@0.5:0.95 "
                     f"<b>{ap['map_50_95']:.3f}</b> over {ap['images']} labelled image(s), each against the boxes "
                     "(score &ge; 0.5) the model serving when its label came had predicted (pycocotools).</p>"
                     + table(["class", "AP@0.5", "labelled boxes"], rows, "box-ap"))
    regions_of: dict[int, list[dict]] = {}
    if project.model_version:
        with session_scope(service.engine) as session:
            stored = rankings.lookup(session=session, project_id=project.id, version=project.model_version,
                                     task_ids=[q.task_id for q in view.queue[:THUMBNAILS]])
        regions_of = {int(t): list(row.regions or []) for t, row in stored.items()}
    shots = thumbnails(view.queue, regions_of, config, service.gateway.fetcher(project))
    if shots:
        parts.append("<h3>Head of the queue with the predicted boxes</h3>"
                     f'<div class="thumbs">{"".join(shots)}</div>')
    return "".join(parts)
