"""A class-conditional GAN synthesizer (registered as ``labelsieve.synthesizers`` ``dcgan``).

:class:`ConditionalGANSynthesizer` trains a DCGAN-style generator and discriminator from scratch on the project's
labelled images and samples new images of the classes asked for. The recipe is the stable one of SNGAN / BigGAN:

- generator: the noise vector concatenated with a learned class embedding, a linear layer to a 4×4 map, then
  transposed-convolution blocks (batch norm, ReLU) doubling the side up to ``image_size``, ``tanh`` output;
- discriminator: strided convolutions with spectral normalisation on every layer (Miyato et al. 2018) and a
  projection head for the class (Miyato & Koyama 2018: ``linear(h) + <embed(y), h>``);
- hinge loss for both players, Adam with ``betas = (0.0, 0.9)`` (Lim & Ye 2017, Zhang et al. 2019).

Spectral norm bounds the discriminator's Lipschitz constant, so training does not need the careful balancing of a
plain DCGAN and works with the few hundred images a labelling project holds. The caller applies the same gates as
for the DDPM (:func:`labelsieve.balancing.added_rows.apply_synthesizer`: classifier agreement, novelty against the
real images, a per-class cap). Runs on CUDA when present (``device="auto"``), else on the CPU, which is practical
for small images (≤ 32 px). ``cost_`` reports the device, seconds, steps and parameter count of the last fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from labelsieve.balancing.base import BalancingError, Synthesizer
from labelsieve.balancing.diffusion import array_to_images, images_to_array

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """``auto``: CUDA when present, else the CPU; ``cuda`` without a GPU is refused."""
    if device not in DEVICES:
        raise BalancingError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise BalancingError("device 'cuda' was asked for but no CUDA GPU is visible; use 'auto' or 'cpu'")
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


class Generator(nn.Module):
    def __init__(self, n_classes: int, latent_dim: int, width: int, image_size: int, channels: int) -> None:
        super().__init__()
        self.width = width
        self.embed = nn.Embedding(n_classes, latent_dim)
        self.project = nn.Linear(2 * latent_dim, width * 4 * 4)
        blocks: list[nn.Module] = [nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(int(math.log2(image_size // 4))):
            blocks += [nn.ConvTranspose2d(width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU()]
        blocks += [nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, self.embed(c)], dim=1)).view(len(z), self.width, 4, 4)
        return self.body(h)


class Discriminator(nn.Module):
    def __init__(self, n_classes: int, width: int, image_size: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(channels, width, 3, 1, 1)), nn.LeakyReLU(0.1)]
        for _ in range(int(math.log2(image_size // 4))):
            layers += [spectral_norm(nn.Conv2d(width, width, 4, 2, 1)), nn.LeakyReLU(0.1)]
        self.body = nn.Sequential(*layers)
        self.out = spectral_norm(nn.Linear(width, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, width))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = self.body(x).sum(dim=(2, 3))
        return self.out(h).squeeze(1) + (self.embed(c) * h).sum(dim=1)


class ConditionalGANSynthesizer(Synthesizer):
    """Class-conditional DCGAN with spectral norm and hinge loss, trained on the labelled images."""

    def __init__(
        self, *, image_size: int = 16, channels: int = 1, latent_dim: int = 32, width: int = 64,
        train_steps: int = 800, batch_size: int = 64, lr: float = 2e-4, discriminator_steps: int = 1,
        device: str = "auto", random_state: int = 0,
    ) -> None:
        self.image_size = image_size
        self.channels = channels
        self.latent_dim = latent_dim
        self.width = width
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.lr = lr
        self.discriminator_steps = discriminator_steps
        self.device = device
        self.random_state = random_state

    def check(self) -> None:
        side = self.image_size
        if not isinstance(side, int) or side < 4 or side & (side - 1):
            raise BalancingError(f"dcgan image_size must be a power of two >= 4, got {side!r}")
        if self.channels not in (1, 3):
            raise BalancingError(f"dcgan channels must be 1 (grey) or 3 (RGB), got {self.channels!r}")
        for name in ("latent_dim", "width", "train_steps", "batch_size", "discriminator_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise BalancingError(f"dcgan {name} must be a positive integer, got {value!r}")
        if not 0 < float(self.lr) < 1:
            raise BalancingError(f"dcgan lr must be in (0, 1), got {self.lr!r}")
        resolve_device(self.device)

    def fit(self, images: Sequence[Any], labels: Sequence[str], *, rng: np.random.Generator
            ) -> ConditionalGANSynthesizer:
        self.check()
        started = time.perf_counter()
        device = resolve_device(self.device)
        self.classes_ = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.classes_)}
        real = torch.from_numpy(images_to_array(images, self.image_size, self.channels)).to(device)
        targets = torch.tensor([index[label] for label in labels], dtype=torch.long, device=device)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            gen = Generator(len(self.classes_), self.latent_dim, self.width, self.image_size, self.channels)
            disc = Discriminator(len(self.classes_), self.width, self.image_size, self.channels)
        gen, disc = gen.to(device), disc.to(device)
        opt_g = torch.optim.Adam(gen.parameters(), lr=self.lr, betas=(0.0, 0.9))
        opt_d = torch.optim.Adam(disc.parameters(), lr=self.lr, betas=(0.0, 0.9))
        n, size = len(targets), min(self.batch_size, len(targets))
        gen.train(True)
        disc.train(True)
        for _step in range(self.train_steps):
            for _ in range(self.discriminator_steps):
                idx = torch.randint(0, n, (size,), generator=generator).to(device)
                fake = gen(self._noise(size, generator, device), targets[idx]).detach()
                loss_d = F.relu(1 - disc(real[idx], targets[idx])).mean() + F.relu(1 + disc(fake, targets[idx])).mean()
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            c = targets[torch.randint(0, n, (size,), generator=generator).to(device)]
            loss_g = -disc(gen(self._noise(size, generator, device), c), c).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
        gen.train(False)
        self.generator_ = gen.cpu()
        self.final_losses_ = {"discriminator": float(loss_d.detach()), "generator": float(loss_g.detach())}
        self.cost_ = {"device": device.type, "seconds": round(time.perf_counter() - started, 3),
                      "train_steps": self.train_steps, "images": n,
                      "parameters": sum(p.numel() for p in (*gen.parameters(), *disc.parameters()))}
        return self

    def _noise(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.randn((n, self.latent_dim), generator=generator).to(device)

    def sample(self, counts: dict[str, int], *, rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
        labels = [label for label, k in counts.items() for _ in range(int(k))]
        unknown = sorted(set(labels) - set(self.classes_))
        if unknown:
            raise BalancingError(f"the GAN was not trained on class(es) {unknown}; it knows {self.classes_}")
        if not labels:
            return [], []
        index = {label: i for i, label in enumerate(self.classes_)}
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        images: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(labels), 256):
                chunk = torch.tensor([index[label] for label in labels[start:start + 256]], dtype=torch.long)
                batch = self.generator_(self._noise(len(chunk), generator, torch.device("cpu")), chunk)
                images.extend(array_to_images(batch.numpy()))
        return images, labels
