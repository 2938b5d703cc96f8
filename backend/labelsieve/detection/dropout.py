"""MC-dropout disagreement of the box head (``mc_dropout_boxes``), reusing one backbone, RPN and head pass per image.

torchvision's Faster R-CNN box head (``TwoMLPHead`` + ``FastRCNNPredictor``) has no dropout layer, so there is no
trained dropout to sample. What is sampled instead: **inverted dropout on the box head's representation, the input of
its last layer** (the predictor: class logits and box regression), ``passes`` times, over the regions the
deterministic pass decided on: its kept detections and, for every image, its ``N_CANDIDATES`` most object-like
proposals. Backbone, RPN, RoI pooling and the head's fully connected layers run **once**, in the detector's ordinary
pass; only the predictor (two linear maps of ``(1 + C) * 5`` outputs) runs ``passes`` more times, on those regions
only. So the extra cost of the signal is the predictor's, which is negligible. The service's ranking pass computes
the samples itself when the project's strategy asks for them (``DetectorLearner.infer_with_dropout``, called by
:func:`labelsieve.service.ranking.region_outputs`), so a round runs the detector over the pool once; only a
strategy that finds no such scores in its context (e.g. inside a wrapper) runs its own pass.

The random stream is fixed by ``(seed, SEED_BLOCK)``: a fresh generator seeded ``seed + start`` for every block of
``SEED_BLOCK`` images starting at ``start``, used in order within the block. The fused pass and the strategy's own
pass follow it, so they give the same scores for the same seed.

Dropout on the RoI-pooled features (before fc6, where the VGG-16 Faster R-CNN head had it) was tried first: on the
tiny detector, whose head is two 1024-wide layers, 8 passes over ~50 regions per image cost 7.6× a plain pass
(10.6 s against 1.4 s for 32 images), because the head, not the backbone, dominates that detector's inference.

Why this and not the alternatives:
- a committee of the last K versions' detectors would run K backbones per image and load K models per round;
- a bootstrap committee of box heads would change training (K heads fit per round);
- perturbing the head's last layer needs neither, and keeps the proposals fixed, so the passes' boxes are matched
  by construction (no IoU matching between committee members).
It is not the Bayesian approximation of Gal & Ghahramani (the head was not trained with dropout): it is a committee
of ``passes`` thinned last layers (last-layer MC dropout), and measures how fragile each box's class and location
are under a random loss of ``rate`` of the features they rest on.

Per region: ``(MI + (1 - mean IoU)) / 2`` in [0, 1], with ``MI`` the mutual information (BALD) between the passes'
class distributions (background included), divided by ``log(1 + C)``, and ``mean IoU`` that of each pass's box (of
the deterministic class) with the deterministic box. An image sums its detections' values (the aggregation the
benchmark chose, :mod:`labelsieve.detection.uncertainty`); an image with no detection scores its most disputed
candidate region (like the host's empty-image rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: images per seeded block of the dropout stream (a multiple of the detector's inference batch)
SEED_BLOCK = 64


@dataclass(frozen=True)
class DropoutScores:
    """Per-image disagreement (:func:`image_disagreement`) of ``passes`` dropout passes at ``rate``, drawn from
    ``seed`` (see the module docstring for the stream), in pool order: what the ranking pass hands the strategy."""

    passes: int
    rate: float
    seed: int
    scores: np.ndarray


def dropout_seed(round_seed: int) -> int:
    """The dropout stream's seed of a round: the first draw of the round's ``np.random.default_rng(round_seed)``,
    which is what :class:`~labelsieve.strategies.boxes.McDropoutBoxes` draws first from its context's ``rng``."""
    return int(np.random.default_rng(round_seed).integers(0, 2**31 - 1))


@dataclass
class HeadSamples:
    """``passes`` stochastic box-head passes over one image's chosen regions: ``probs`` (T, R, 1 + C) softmax over
    background + classes, ``boxes`` (T, R, 4) each region's box for the deterministic pass's class, ``reference``
    (R, 4) the deterministic boxes, ``kept`` (R,) True for a detection, False for a candidate region."""

    probs: np.ndarray
    boxes: np.ndarray
    reference: np.ndarray
    kept: np.ndarray


def dropped(features: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Inverted dropout with a seeded generator (``F.dropout`` takes none): zero each value with probability
    ``rate`` and scale the rest by ``1 / (1 - rate)``, so every pass has the deterministic pass's expectation."""
    if rate <= 0.0:
        return features
    keep = torch.rand(features.shape, generator=generator, device=features.device) >= rate
    return features * keep.to(features.dtype) / (1.0 - rate)


def head_passes(heads: torch.nn.Module, represented: torch.Tensor, proposals: torch.Tensor, labels: torch.Tensor,
                passes: int, rate: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``passes`` runs of ``heads.box_predictor`` on the box head's output ``represented`` (R, d) of ``proposals``
    (R, 4) with dropout on ``represented``: probabilities (T, R, 1 + C) and the decoded boxes of class ``labels``
    (R,) (T, R, 4), in the transformed image's pixels."""
    probs, boxes = [], []
    for _ in range(passes):
        logits, regression = heads.box_predictor(dropped(represented, rate, generator))
        decoded = heads.box_coder.decode(regression.float(), [proposals]).reshape(len(proposals), -1, 4)
        probs.append(torch.softmax(logits.float(), dim=-1))
        boxes.append(decoded[torch.arange(len(proposals)), labels])
    return torch.stack(probs), torch.stack(boxes)


def paired_iou(boxes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """IoU of every pass's box with its own region's reference box, ``(T, R, 4)`` against ``(R, 4)`` → ``(T, R)``:
    the diagonal of :func:`torchvision.ops.box_iou` per pass, in its float32 operations, without the ``R × R``
    matrix (NaN where both boxes are degenerate, as there)."""
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    area_ref = (reference[:, 2] - reference[:, 0]) * (reference[:, 3] - reference[:, 1])
    width = np.clip(np.minimum(boxes[..., 2], reference[:, 2]) - np.maximum(boxes[..., 0], reference[:, 0]), 0, None)
    height = np.clip(np.minimum(boxes[..., 3], reference[:, 3]) - np.maximum(boxes[..., 1], reference[:, 1]), 0, None)
    inter = width * height
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area + area_ref - inter)


def region_disagreement(probs: np.ndarray, boxes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per region, ``(MI / log(1 + C) + (1 - mean IoU)) / 2`` over the passes (see the module docstring)."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    if probs.shape[1] == 0:
        return np.zeros(0)
    mean = probs.mean(axis=0)
    entropy_of_mean = -(mean * np.log(mean)).sum(axis=1)
    mean_entropy = -(probs * np.log(probs)).sum(axis=2).mean(axis=0)
    information = np.clip(entropy_of_mean - mean_entropy, 0.0, None) / np.log(probs.shape[2])
    overlaps = paired_iou(np.asarray(boxes, dtype=np.float32).reshape(len(probs), -1, 4),
                          np.asarray(reference, dtype=np.float32).reshape(-1, 4)).astype(np.float64)
    overlaps = np.nan_to_num(overlaps, nan=1.0)  # two degenerate boxes (a clipped candidate): no evidence of a move
    return (information + (1.0 - overlaps.mean(axis=0))) / 2.0


def image_disagreement(samples: HeadSamples) -> float:
    """Sum over the detections; an image with none scores its most disputed candidate (0 without regions)."""
    values = region_disagreement(samples.probs, samples.boxes, samples.reference)
    kept = np.asarray(samples.kept, dtype=bool)
    if kept.any():
        return float(values[kept].sum())
    return float(values.max()) if values.size else 0.0
