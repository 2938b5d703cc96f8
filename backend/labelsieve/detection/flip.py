"""Localisation stability (``flip_disagreement``, CALD-style, Yu et al. 2022): the detector is run again on the
horizontally mirrored image and its boxes are mirrored back (``mirror``). Every box of either pass is matched to the
other pass's box of largest IoU; its disagreement is ``((1 - IoU) + JS(p, q)) / 2``, with ``JS`` the Jensen-Shannon
divergence (base 2, in [0, 1]) of the two class distributions (background included; a foreign backend's boxes
compare their label and score as a two-way distribution), and 1 for a box the other pass did not find. The image
scores the largest disagreement of its boxes (CALD keeps the least consistent box). Two empty passes fall back to the
empty-image rule of :mod:`labelsieve.detection.uncertainty`.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import jensenshannon
from torchvision.ops import box_iou

from labelsieve.detection.prediction import Detections
from labelsieve.detection.uncertainty import empty_image_uncertainty


def mirror(detections: Detections, width: int) -> Detections:
    """The boxes of a horizontally mirrored image (``width`` pixels wide) mapped back onto the original image."""
    boxes = np.asarray(detections.boxes, dtype=np.float32).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
    return Detections(boxes, list(detections.labels), np.asarray(detections.scores), detections.probs,
                      detections.candidate_background, detections.width, detections.height)


def _distributions(detections: Detections, classes: list[str]) -> np.ndarray:
    if detections.probs is not None:
        return np.asarray(detections.probs, dtype=np.float64)
    out = np.zeros((len(detections), 1 + len(classes)))
    for i, (label, score) in enumerate(zip(detections.labels, detections.scores, strict=True)):
        out[i, 0] = 1.0 - float(score)
        out[i, 1 + classes.index(label)] = float(score)
    return out


def _one_way(a: Detections, b: Detections, iou: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0)
    if len(b) == 0:
        return np.ones(len(a))
    best = iou.argmax(axis=1)
    overlap = iou[np.arange(len(a)), best]
    divergence = np.nan_to_num(jensenshannon(pa, pb[best], base=2.0, axis=1))
    return ((1.0 - overlap) + divergence) / 2.0


def flip_disagreement(original: Detections, mirrored_back: Detections) -> float:
    """How much the detections of an image and of its mirror image (already mapped back, :func:`mirror`) disagree,
    in [0, 1] (see the module docstring)."""
    if len(original) == 0 and len(mirrored_back) == 0:
        return empty_image_uncertainty(original)
    classes = sorted(set(original.labels) | set(mirrored_back.labels))
    pa, pb = _distributions(original, classes), _distributions(mirrored_back, classes)
    if pa.shape[1] != pb.shape[1]:
        raise ValueError("the two passes' class distributions have different widths")
    a = torch.as_tensor(np.asarray(original.boxes, dtype=np.float32).reshape(-1, 4))
    b = torch.as_tensor(np.asarray(mirrored_back.boxes, dtype=np.float32).reshape(-1, 4))
    iou = box_iou(a, b).numpy().astype(np.float64)
    there = _one_way(original, mirrored_back, iou, pa, pb)
    back = _one_way(mirrored_back, original, iou.T, pb, pa)
    return float(np.concatenate([there, back]).max())
