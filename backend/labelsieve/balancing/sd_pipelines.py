"""What the two Stable Diffusion synthesizers share (``sd_img2img`` and ``sd_controlnet``).

Both load pipelines from **local** diffusers directories (never a hub id, never a download), run on the round's
device (:func:`labelsieve.devices.resolve_device`; float16 on CUDA, float32 on the CPU), keep the real images of
every class at ``fit`` and, at ``sample``, draw each class's images from randomly picked real images of that class
(one pipeline call per class, seeded from the round's generator). A subclass says how one class's batch is drawn
(:meth:`RealImageSynthesizer.draw`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelsieve.balancing.base import BalancingError, Synthesizer
from labelsieve.devices import resolve_device


def require_diffusers() -> Any:
    try:
        import diffusers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BalancingError(
            "diffusion synthesis needs the optional dependencies: pip install 'labelsieve[diffusion]'"
        ) from exc
    return diffusers


def local_checkpoint(path: str | None, name: str, what: str, marker: str) -> Path:
    """``path`` as a local diffusers directory holding ``marker``; a clear error naming the synthesizer otherwise."""
    if not path:
        raise BalancingError(f"{name} needs {what}: a local diffusers directory (no hub ids, no downloads)")
    folder = Path(path).expanduser()
    if not folder.is_dir() or not (folder / marker).is_file():
        raise BalancingError(
            f"{what} {path!r} is not a local diffusers directory (no {marker}); labelsieve never downloads weights: "
            "save the model with save_pretrained(dir) and give that dir")
    return folder


def pipeline_device() -> tuple[torch.device, torch.dtype]:
    """The round's device and the dtype the pipelines run in there."""
    device = resolve_device()
    return device, (torch.float16 if device.type == "cuda" else torch.float32)


class RealImageSynthesizer(Synthesizer):
    """A synthesizer that draws each new image of a class from a real image of that class (module docstring)."""

    def load_pipeline(self) -> Any:
        raise NotImplementedError

    def draw(self, label: str, reals: list[Any], generator: torch.Generator) -> np.ndarray:
        """One class's batch, one image per real image in ``reals``: floats in [0, 1], (n, height, width, 3)."""
        raise NotImplementedError

    def fit(self, images: Sequence[Any], labels: Sequence[str], *, rng: np.random.Generator) -> Any:
        self.pipeline_ = self.load_pipeline()
        self.pipeline_.set_progress_bar_config(disable=True)
        self.real_: dict[str, list[Any]] = {}
        for image, label in zip(images, labels, strict=True):
            self.real_.setdefault(label, []).append(image)
        return self

    def sample(self, counts: dict[str, int], *, rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
        out_images: list[np.ndarray] = []
        out_labels: list[str] = []
        for label, k in counts.items():
            if int(k) <= 0:
                continue
            if label not in self.real_:
                raise BalancingError(f"no real image of class {label!r} to draw new ones from")
            pool = self.real_[label]
            reals = [pool[i] for i in rng.integers(0, len(pool), int(k))]
            generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
            result = np.asarray(self.draw(label, reals, generator), dtype=np.float32)
            out_images.extend(np.clip(result * 255, 0, 255).round().astype(np.uint8))
            out_labels.extend([label] * len(reals))
        return out_images, out_labels
