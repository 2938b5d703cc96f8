"""One inference pass of a torchvision Faster R-CNN, stage by stage (transform, backbone, RPN, RoI heads).

The detector's own ``forward`` keeps only the winning score of each box; this pass keeps, for every kept box, the
softmax over background + classes, and for every image the background probability of its ``N_CANDIDATES`` most
object-like proposals (the rule for an image with no detection). With ``dropout`` it also runs the box head's
stochastic passes on the same backbone and RPN output (:mod:`labelsieve.detection.dropout`). On CUDA it runs in
mixed precision. :class:`labelsieve.detection.learner.DetectorLearner` calls it once per batch of images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchvision.ops import batched_nms, clip_boxes_to_image

from labelsieve.detection.dropout import HeadSamples, head_passes
from labelsieve.detection.networks import feature_embedding
from labelsieve.detection.prediction import Detections

N_CANDIDATES = 10  # top proposals whose background probability decides an image with no detection


def autocast(device: torch.device) -> Any:
    """Mixed precision on CUDA, full precision elsewhere (the detector's training and inference)."""
    return torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda")


@torch.inference_mode()
def run_stages(model: Any, images: list[torch.Tensor], *, classes: Sequence[str], score_threshold: float,
               device: torch.device, dropout: tuple[int, float, torch.Generator] | None = None,
               ) -> tuple[list[Detections], np.ndarray, list[HeadSamples]]:
    """One pass of every stage of ``model`` (already on ``device``) over a batch: the detections, the backbone's
    pooled features and, with ``dropout = (passes, rate, generator)``, the box head's stochastic passes over each
    image's detections and top candidates, on the same backbone and RPN output."""
    originals = [(int(i.shape[-2]), int(i.shape[-1])) for i in images]
    heads = model.roi_heads
    with autocast(device):
        batch, _ = model.transform([i.to(device) for i in images])
        features = model.backbone(batch.tensors)
        if isinstance(features, torch.Tensor):
            features = {"0": features}
        proposals, _ = model.rpn(batch, features)
        represented = heads.box_head(heads.box_roi_pool(features, proposals, batch.image_sizes))
        logits, regression = heads.box_predictor(represented)
    embedding = feature_embedding(features).float().cpu().numpy()
    probs = torch.softmax(logits.float(), dim=-1)
    decoded = heads.box_coder.decode(regression.float(), proposals)
    out: list[Detections] = []
    chosen_regions: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    counts = [len(x) for x in proposals]
    for p, b, size, original in zip(probs.split(counts), decoded.split(counts), batch.image_sizes, originals,
                                    strict=True):
        keep, top, score, label, chosen = decide(p, clip_boxes_to_image(b, size), heads, score_threshold)
        out.append(detections(p, keep, top, score, label, chosen, size, original, classes))
        if dropout is not None:
            regions = torch.cat([keep, top[~torch.isin(top, keep)]])
            chosen_regions.append((regions, label[regions] + 1, chosen[regions], keep))
    if dropout is None:
        return out, embedding, []
    # the stochastic passes: every image's chosen regions in one batch, on the box head's output computed above
    offsets = np.cumsum([0, *counts[:-1]])
    picked = torch.cat([regions + int(o) for (regions, *_), o in zip(chosen_regions, offsets, strict=True)])
    with autocast(device):
        sampled, boxes = head_passes(heads, represented[picked], torch.cat(proposals)[picked],
                                     torch.cat([c[1] for c in chosen_regions]), *dropout)
    sizes = [len(c[0]) for c in chosen_regions]
    samples = [HeadSamples(p.cpu().numpy(), clip_boxes_to_image(b, size).cpu().numpy(), ref.cpu().numpy(),
                           np.arange(len(regions)) < len(keep))
               for p, b, (regions, _, ref, keep), size in zip(sampled.split(sizes, dim=1),
                                                             boxes.split(sizes, dim=1), chosen_regions,
                                                             batch.image_sizes, strict=True)]
    return out, embedding, samples


def decide(probs: torch.Tensor, boxes: torch.Tensor, heads: Any, score_threshold: float) -> tuple[torch.Tensor, ...]:
    """The kept detections' indices (score threshold, non-degenerate, class-wise NMS, at most the RoI heads'
    ``detections_per_img``), the top candidates' indices, and every region's score, label and box."""
    score, label = probs[:, 1:].max(dim=1)
    chosen = boxes[torch.arange(len(boxes)), label + 1]
    wide = (chosen[:, 2] - chosen[:, 0] > 1e-2) & (chosen[:, 3] - chosen[:, 1] > 1e-2)
    keep = torch.where((score > score_threshold) & wide)[0]
    keep = keep[batched_nms(chosen[keep], score[keep], label[keep], heads.nms_thresh)]
    keep = keep[: heads.detections_per_img]
    top = torch.argsort(1.0 - probs[:, 0], descending=True)[:N_CANDIDATES]
    return keep, top, score, label, chosen


def detections(probs: torch.Tensor, keep: torch.Tensor, top: torch.Tensor, score: torch.Tensor, label: torch.Tensor,
               chosen: torch.Tensor, size: tuple[int, int], original: tuple[int, int],
               classes: Sequence[str]) -> Detections:
    """The kept boxes of one image, scaled from the transform's ``size`` back to the ``original`` image."""
    ratio = torch.tensor([original[1] / size[1], original[0] / size[0]] * 2, device=chosen.device)
    return Detections(
        boxes=(chosen[keep] * ratio).cpu().numpy().astype(np.float32),
        labels=[classes[int(j)] for j in label[keep].cpu()],
        scores=score[keep].cpu().numpy().astype(np.float64),
        probs=probs[keep].cpu().numpy().astype(np.float64),
        candidate_background=probs[top, 0].cpu().numpy().astype(np.float64),
        width=original[1], height=original[0],
    )
