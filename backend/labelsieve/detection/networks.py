"""torchvision Faster R-CNN detectors: a tiny backbone trainable from scratch on a CPU, or a torchvision builder.

``tiny``: four conv blocks (stride 4), one feature map, anchors 8-32 px: made for small images and small data.
``fasterrcnn_mobilenet_v3_large_fpn`` / ``fasterrcnn_mobilenet_v3_large_320_fpn`` / ``fasterrcnn_resnet50_fpn``:
torchvision's builders with ``weights=None``; pretrained weights come from a local file (``weights_path``, a
safetensors or torch state dict of the detector or of its backbone) or, where the user's environment can download
them, by torchvision name (``weights_name``, e.g. ``"DEFAULT"``). Tests never download.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign

from labelsieve.learners.networks import load_state_dict_file

ARCHITECTURES = ("tiny", "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn",
                 "fasterrcnn_resnet50_fpn")


class DetectorBuildError(ValueError):
    """The architecture or the weights cannot be used; the message says which and why."""


class TinyBackbone(nn.Sequential):
    """Conv-BN-ReLU ×4, total stride 4, ``out_channels`` maps (what torchvision's FasterRCNN needs)."""

    def __init__(self, width: int = 16, out_channels: int = 32):
        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True)]

        super().__init__(*block(3, width, 2), *block(width, width, 1), *block(width, out_channels, 2),
                         *block(out_channels, out_channels, 1))
        self.out_channels = out_channels


def _tiny(num_classes: int, image_size: int) -> FasterRCNN:
    anchors = AnchorGenerator(sizes=((8, 16, 32),), aspect_ratios=((0.5, 1.0, 2.0),))
    pooler = MultiScaleRoIAlign(featmap_names=["0"], output_size=5, sampling_ratio=1)
    return FasterRCNN(
        TinyBackbone(), num_classes=num_classes, rpn_anchor_generator=anchors, box_roi_pool=pooler,
        min_size=image_size, max_size=image_size, image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25],
        rpn_pre_nms_top_n_train=400, rpn_post_nms_top_n_train=200, rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=100, box_batch_size_per_image=64, box_score_thresh=0.05, box_detections_per_img=50,
    )  # box head: torchvision's TwoMLPHead, 1024 wide (FasterRCNN takes no width; a 128-wide head measured 2.3-3.6x
    # faster to infer but 0.11-0.13 lower mAP@0.5 on 2 seeds of 60 labelled shapes: benchmarks/results/boxes.md)


def _torchvision(arch: str, num_classes: int, image_size: int, weights_name: str | None) -> FasterRCNN:
    from torchvision.models import detection

    builder = getattr(detection, arch)
    kwargs = {"min_size": image_size, "max_size": max(image_size, int(image_size * 4 / 3)),
              "box_score_thresh": 0.05}
    if weights_name is None:
        return builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    try:
        model = builder(weights=weights_name, **kwargs)  # downloads through torchvision's cache
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        raise DetectorBuildError(
            f"torchvision could not load weights {weights_name!r} for {arch} ({exc}); on a machine without "
            "internet access, download them once and pass the file as weights_path"
        ) from exc
    _replace_predictor(model, num_classes)
    return model


def _replace_predictor(model: FasterRCNN, num_classes: int) -> None:
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    predictor = model.roi_heads.box_predictor
    if predictor.cls_score.out_features != num_classes:
        model.roi_heads.box_predictor = FastRCNNPredictor(predictor.cls_score.in_features, num_classes)


def load_weights_file(model: FasterRCNN, path: Path) -> int:
    """Load matching tensors of ``path`` into the detector (or into its backbone); returns how many were loaded."""
    try:
        state = load_state_dict_file(path)
    except FileNotFoundError as exc:
        raise DetectorBuildError(str(exc)) from exc
    for target in (model, model.backbone, getattr(model.backbone, "body", None)):
        if target is None:
            continue
        own = target.state_dict()
        matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if matching:
            target.load_state_dict(matching, strict=False)
            return len(matching)
    raise DetectorBuildError(f"no tensor in {path} matches the detector or its backbone (names and shapes)")


def build_detector(arch: str, num_classes: int, *, image_size: int, weights_path: str | None = None,
                   weights_name: str | None = None) -> FasterRCNN:
    """A Faster R-CNN with ``num_classes`` outputs (background included)."""
    if arch not in ARCHITECTURES:
        raise DetectorBuildError(f"unknown detector architecture {arch!r}; choose one of {list(ARCHITECTURES)}")
    if arch == "tiny":
        if weights_name:
            raise DetectorBuildError("the tiny detector has no published weights; pass weights_path or no weights")
        model = _tiny(num_classes, image_size)
    else:
        model = _torchvision(arch, num_classes, image_size, weights_name)
    if weights_path:
        load_weights_file(model, Path(weights_path))
    return model


def feature_embedding(features: dict[str, torch.Tensor]) -> torch.Tensor:
    """The backbone's pooled features: global average pool of each feature map, concatenated (n, d)."""
    return torch.cat([value.mean(dim=(2, 3)) for value in features.values()], dim=1)
