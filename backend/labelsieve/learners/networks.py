"""Image networks: a small CNN trained from scratch, or any torchvision classifier whose final
linear layer is swapped for our own head (optionally with pretrained backbone weights loaded
from a local file: safetensors or a ``weights_only`` torch state dict, never a hub download)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from labelsieve.learners.pretrained import Lite0Backbone


class SmallCNN(nn.Module):
    """Three conv blocks and a two-layer head; ~60k parameters, fast on a CPU at 32×32."""

    def __init__(self, in_channels: int = 3, width: int = 16, embed_dim: int = 128, dropout: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(16 * width, embed_dim), nn.ReLU(),
        )
        self.out_features = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _replace_last_linear(module: nn.Module) -> int:
    """Replace the last ``nn.Linear`` inside ``module`` with ``Identity``; return its in_features."""
    last_name, last = None, None
    for name, child in module.named_modules():
        if isinstance(child, nn.Linear):
            last_name, last = name, child
    if last is None or last_name is None:
        raise ValueError("the torchvision model has no final nn.Linear layer to replace")
    parent = module
    *path, leaf = last_name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, nn.Identity())
    return int(last.in_features)


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist (weights load only from a local path)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


class ImageNet(nn.Module):
    """Backbone producing an embedding, then dropout and a linear classifier."""

    def __init__(self, backbone: nn.Module, embed_dim: int, n_classes: int, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.backbone(x)
        return self.head(self.dropout(embedding)), embedding


#: the smallest square input (px) each built-in network accepts: EfficientNet-Lite0's static "same" padding is laid
#: out for 224 px and fails below 32 px; the small CNN pools twice
MIN_IMAGE_SIZE: dict[str, int] = {"small": 4, "efficientnet_lite0": 32}


def check_image_size(arch: str, image_size: object, what: str) -> None:
    """``ValueError`` naming ``what`` when ``image_size`` is not an int the network ``arch`` accepts."""
    least = MIN_IMAGE_SIZE.get(arch, 1)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < least:
        raise ValueError(f"{what} {image_size!r} is too small for the {arch} network: it needs an int of at "
                         f"least {least} px")


def build_network(
    arch: str, n_classes: int, *, dropout: float, backbone_weights: str | None = None
) -> ImageNet:
    if arch == "small":
        backbone: nn.Module = SmallCNN(dropout=dropout)
        embed_dim = backbone.out_features  # type: ignore[assignment]
    elif arch == "efficientnet_lite0":  # the packaged encoder's network, fine-tuned (learners/encoders.py)
        backbone = Lite0Backbone(Path(backbone_weights) if backbone_weights else None)
        embed_dim = Lite0Backbone.out_features
    else:
        import torchvision

        backbone = torchvision.models.get_model(arch, weights=None)
        if backbone_weights:
            state = load_state_dict_file(Path(backbone_weights))
            missing, unexpected = backbone.load_state_dict(state, strict=False)
            loaded = len(state) - len(unexpected)
            if loaded == 0:
                raise ValueError(f"no tensor in {backbone_weights} matches torchvision model {arch!r}")
        embed_dim = _replace_last_linear(backbone)
    return ImageNet(backbone, int(embed_dim), n_classes, dropout)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Flush denormals to zero while torch trains (faster on CPU), in this thread only, then restore.

    Left on for the whole process it makes numpy warn "The value of the smallest subnormal ... is zero" for
    every ``finfo`` lookup (scikit-learn's import does several), so it is scoped to the training loop."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
