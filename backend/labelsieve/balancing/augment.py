"""Image augmenters built on ``torchvision.transforms.v2`` (registered as ``labelsieve.augmenters``).

Each augmenter changes image ``i`` of a batch with probability ``strength[i]``; the torch learner
sets a higher strength for minority classes (see :func:`minority_strength`). Batch-level CutMix /
MixUp is :func:`mix_batch`, used inside the training loop because it mixes labels too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from labelsieve.balancing.base import Augmenter


@contextmanager
def seeded_transforms(generator: torch.Generator) -> Iterator[None]:
    """torchvision's v2 transforms draw from torch's global generator: run them on a fork of it seeded from
    ``generator``, so an augmenter's output depends on the generator it is given, not on what ran before."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class _V2Augmenter(Augmenter):
    """Applies ``self.build()`` (a v2 transform on one ``uint8`` or float image) per selected image."""

    uint8: bool = False

    def build(self) -> Any:
        raise NotImplementedError

    def transform(self, images: torch.Tensor, strength: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(images.shape)}")
        chosen = torch.rand(images.shape[0], generator=generator) < strength.float().clamp(0, 1)
        if not bool(chosen.any()):
            return images
        op = self.build()
        out = images.clone()
        with seeded_transforms(generator):
            for i in chosen.nonzero().flatten().tolist():
                image = images[i]
                if self.uint8:
                    image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
                    out[i] = op(image).float() / 255.0
                else:
                    out[i] = op(image).clamp(0, 1)
        return out


class GeometricAugmenter(_V2Augmenter):
    """Random affine warp: rotation, translation, scale (``v2.RandomAffine``)."""

    def __init__(self, *, degrees: float = 12.0, translate: float = 0.1, scale: float = 0.12) -> None:
        self.degrees = degrees
        self.translate = translate
        self.scale = scale

    def build(self) -> Any:
        from torchvision.transforms import v2

        return v2.RandomAffine(
            degrees=self.degrees, translate=(self.translate, self.translate), scale=(1 - self.scale, 1 + self.scale)
        )


class ShiftAugmenter(_V2Augmenter):
    """Whole-pixel translation by up to ``pixels`` in each direction (``v2.RandomCrop`` of an edge-padded image):
    no rotation, no resampling, so a tiny image keeps every pixel value (a sub-pixel affine warp of an 8x8 digit
    blurs it into an ambiguous shape; see README, Balancing)."""

    def __init__(self, *, pixels: int = 1) -> None:
        self.pixels = pixels

    def transform(self, images: torch.Tensor, strength: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(images.shape)}")
        if self.pixels < 1:
            raise ValueError(f"shift pixels must be >= 1, got {self.pixels}")
        chosen = (torch.rand(images.shape[0], generator=generator) < strength.float().clamp(0, 1)).nonzero().flatten()
        out = images.clone()
        if len(chosen) == 0:
            return out
        from torchvision.transforms import v2

        height, width = images.shape[-2:]
        op = v2.RandomCrop((height, width), padding=self.pixels, padding_mode="edge")
        with seeded_transforms(generator):
            for i in chosen.tolist():
                out[i] = op(images[i])
        return out


class ColourAugmenter(_V2Augmenter):
    """Brightness / contrast / saturation / hue jitter (``v2.ColorJitter``)."""

    def __init__(self, *, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.05) -> None:
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue

    def build(self) -> Any:
        from torchvision.transforms import v2

        return v2.ColorJitter(self.brightness, self.contrast, self.saturation, self.hue)


class NoiseAugmenter(_V2Augmenter):
    """Additive Gaussian noise then a light blur (``v2.GaussianNoise``, ``v2.GaussianBlur``)."""

    def __init__(self, *, sigma: float = 0.05, blur_sigma: float = 0.6) -> None:
        self.sigma = sigma
        self.blur_sigma = blur_sigma

    def build(self) -> Any:
        from torchvision.transforms import v2

        return v2.Compose([
            v2.GaussianNoise(sigma=self.sigma, clip=True),
            v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, self.blur_sigma))], p=0.5),
        ])


class SaltPepperAugmenter(Augmenter):
    """Salt-and-pepper (impulse) noise: a fraction ``amount`` of the pixels set to white (salt, share
    ``salt_ratio``) or black (pepper), all channels of a pixel alike; torchvision has no such transform."""

    def __init__(self, *, amount: float = 0.04, salt_ratio: float = 0.5) -> None:
        if not 0.0 <= amount <= 1.0 or not 0.0 <= salt_ratio <= 1.0:
            raise ValueError(f"salt_pepper needs amount and salt_ratio in [0, 1], got {amount!r}, {salt_ratio!r}")
        self.amount = amount
        self.salt_ratio = salt_ratio

    def transform(self, images: torch.Tensor, strength: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(images.shape)}")
        batch, _, height, width = images.shape
        chosen = torch.rand(batch, generator=generator) < strength.float().clamp(0, 1)
        hit = (torch.rand((batch, 1, height, width), generator=generator) < self.amount) & chosen[:, None, None, None]
        salt = torch.rand((batch, 1, height, width), generator=generator) < self.salt_ratio
        out = images.clone()
        out = torch.where(hit & salt, torch.ones_like(out), out)
        return torch.where(hit & ~salt, torch.zeros_like(out), out)


class RandAugmenter(_V2Augmenter):
    """RandAugment (Cubuk et al. 2020): ``num_ops`` random ops at ``magnitude`` (``v2.RandAugment``)."""

    uint8 = True

    def __init__(self, *, num_ops: int = 2, magnitude: int = 9) -> None:
        self.num_ops = num_ops
        self.magnitude = magnitude

    def build(self) -> Any:
        from torchvision.transforms import v2

        return v2.RandAugment(num_ops=self.num_ops, magnitude=self.magnitude)


class TrivialAugmenter(_V2Augmenter):
    """TrivialAugment Wide (Müller & Hutter 2021): one random op at a random magnitude."""

    uint8 = True

    def __init__(self) -> None:
        pass

    def build(self) -> Any:
        from torchvision.transforms import v2

        return v2.TrivialAugmentWide()


def minority_strength(targets: torch.Tensor, counts: np.ndarray, *, base: float, minority_boost: float) -> torch.Tensor:
    """Per-image augmentation probability: ``base`` for the largest class, rising to
    ``base + minority_boost`` (capped at 1) for the rarest, linear in ``1 - n_c / n_max``."""
    counts = np.asarray(counts, dtype=np.float64)
    rarity = 1.0 - counts / max(counts.max(), 1.0)
    per_class = torch.as_tensor(np.clip(base + minority_boost * rarity, 0.0, 1.0), dtype=torch.float32)
    return per_class[targets]


MIXES = ("mixup", "cutmix", "mixup_cutmix")


def mix_batch(images: torch.Tensor, targets: torch.Tensor, n_classes: int, *, mode: str,
              alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """MixUp / CutMix on a batch (``v2.MixUp``, ``v2.CutMix``, or a random choice of both).

    Returns the mixed images and soft labels ``(B, n_classes)``. Draws from the torch RNG
    (the learner seeds it inside ``fork_rng``).
    """
    from torchvision.transforms import v2

    if mode == "mixup":
        op: Any = v2.MixUp(alpha=alpha, num_classes=n_classes)
    elif mode == "cutmix":
        op = v2.CutMix(alpha=alpha, num_classes=n_classes)
    elif mode == "mixup_cutmix":
        op = v2.RandomChoice([
            v2.MixUp(alpha=alpha, num_classes=n_classes), v2.CutMix(alpha=alpha, num_classes=n_classes)
        ])
    else:
        raise ValueError(f"unknown batch mix {mode!r}; choose one of {', '.join(MIXES)}")
    return op(images, targets)
