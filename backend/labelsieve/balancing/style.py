"""Style transfer across two domains as an augmenter (registered as ``labelsieve.augmenters`` ``style_transfer``).

An unpaired image-to-image translation in the CycleGAN recipe (Zhu et al. 2017), kept tiny so it trains on the CPU
on small images in seconds: two generators (A→B, B→A: a few 3×3 convolutions with a residual connection to the
input), two PatchGAN discriminators (strided 4×4 convolutions ending in a map of real/fake scores), the least-squares
GAN loss (LSGAN), the cycle-consistency loss ``|G_BA(G_AB(a)) - a|`` and the identity loss ``|G_AB(b) - b|``.

The two domains are the two values of a task data field the project names (``balancing_params:
{"style_transfer": {"domain_field": "site"}}``). :func:`apply_style_transfer` translates the real images of the
minority classes into the other domain and adds those that pass the synthesizers' gates (classifier agreement,
novelty against the real images) as synthetic rows. :func:`check_domains` refuses a field that is missing or holds
fewer than two values.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labelsieve.balancing.base import Augmenter, BalancingError, SyntheticBatch
from labelsieve.balancing.diffusion import array_to_images, images_to_array
from labelsieve.balancing.domains import check_domains
from labelsieve.balancing.gan import resolve_device
from labelsieve.balancing.quality import novelty_gate, pixel_classifier, quality_gate
from labelsieve.balancing.training_set import TrainingSet

NAME = "style_transfer"


class _Translator(nn.Module):
    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x + self.body(x))


def _patch_discriminator(channels: int, width: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1), nn.InstanceNorm2d(2 * width), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 1, 3, 1, 1),
    )


class StyleTransferAugmenter(Augmenter):
    """CycleGAN-style translation between two domains; :meth:`fit` learns it, :meth:`translate` applies it."""

    def __init__(
        self, *, domain_field: str = "domain", image_size: int = 16, channels: int = 3, width: int = 8,
        train_steps: int = 300, batch_size: int = 16, lr: float = 2e-3, cycle_weight: float = 10.0,
        identity_weight: float = 1.0, device: str = "auto", random_state: int = 0,
    ) -> None:
        self.domain_field = domain_field
        self.image_size = image_size
        self.channels = channels
        self.width = width
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.lr = lr
        self.cycle_weight = cycle_weight
        self.identity_weight = identity_weight
        self.device = device
        self.random_state = random_state

    def check(self) -> None:
        if not isinstance(self.domain_field, str) or not self.domain_field:
            raise BalancingError(
                f"style_transfer domain_field must be a task data field name, got {self.domain_field!r}")
        if not isinstance(self.image_size, int) or self.image_size < 8 or self.image_size % 4:
            raise BalancingError(
                f"style_transfer image_size must be a multiple of 4, at least 8, got {self.image_size!r}")
        if self.channels not in (1, 3):
            raise BalancingError(f"style_transfer channels must be 1 (grey) or 3 (RGB), got {self.channels!r}")
        for name in ("width", "train_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise BalancingError(f"style_transfer {name} must be a positive integer, got {value!r}")
        if not 0 < float(self.lr) < 1:
            raise BalancingError(f"style_transfer lr must be in (0, 1), got {self.lr!r}")
        if float(self.cycle_weight) < 0 or float(self.identity_weight) < 0:
            raise BalancingError("style_transfer cycle_weight and identity_weight must be >= 0")
        resolve_device(self.device)

    def fit(self, images: Sequence[Any], domains: Sequence[Any], *, rng: np.random.Generator) -> StyleTransferAugmenter:
        """Train both translators on the images of the two domains (``domains[i]`` is image ``i``'s value)."""
        self.check()
        started = time.perf_counter()
        self.domains_ = check_domains(domains, self.domain_field)
        device = resolve_device(self.device)
        pixels = torch.from_numpy(images_to_array(images, self.image_size, self.channels))
        names = np.array([str(d) for d in domains])
        real_a = pixels[torch.from_numpy(names == self.domains_[0])].to(device)
        real_b = pixels[torch.from_numpy(names == self.domains_[1])].to(device)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            g_ab, g_ba = _Translator(self.channels, self.width), _Translator(self.channels, self.width)
            d_a, d_b = _patch_discriminator(self.channels, self.width), _patch_discriminator(self.channels, self.width)
        g_ab, g_ba, d_a, d_b = g_ab.to(device), g_ba.to(device), d_a.to(device), d_b.to(device)
        opt_g = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], lr=self.lr, betas=(0.5, 0.999))

        def batch(real: torch.Tensor) -> torch.Tensor:
            idx = torch.randint(0, len(real), (min(self.batch_size, len(real)),), generator=generator)
            return real[idx.to(device)]

        for _step in range(self.train_steps):
            a, b = batch(real_a), batch(real_b)
            fake_b, fake_a = g_ab(a), g_ba(b)
            adversarial = ((d_b(fake_b) - 1) ** 2).mean() + ((d_a(fake_a) - 1) ** 2).mean()
            cycle = F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g_ab(fake_a), b)
            identity = F.l1_loss(g_ab(b), b) + F.l1_loss(g_ba(a), a)
            loss_g = adversarial + self.cycle_weight * cycle + self.identity_weight * identity
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            loss_d = sum(((d(r) - 1) ** 2).mean() + (d(f.detach()) ** 2).mean()
                         for d, r, f in ((d_b, b, fake_b), (d_a, a, fake_a))) / 2
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        if not (torch.isfinite(loss_g) and torch.isfinite(loss_d)):
            raise RuntimeError(f"style_transfer training diverged (generator loss {float(loss_g)})")
        self.translators_ = {self.domains_[0]: g_ab.eval().cpu(), self.domains_[1]: g_ba.eval().cpu()}
        self.cost_ = {"device": device.type, "seconds": round(time.perf_counter() - started, 3),
                      "train_steps": self.train_steps, "images": len(names),
                      "parameters": sum(p.numel() for m in (g_ab, g_ba, d_a, d_b) for p in m.parameters())}
        return self

    def translate(self, images: Sequence[Any], source: str) -> list[np.ndarray]:
        """``images`` of domain ``source`` translated into the other domain (uint8 arrays at ``image_size``)."""
        if source not in getattr(self, "translators_", {}):
            raise BalancingError(f"style_transfer was not fitted on domain {source!r}")
        if len(images) == 0:
            return []
        with torch.no_grad():
            out = self.translators_[source](torch.from_numpy(images_to_array(images, self.image_size, self.channels)))
        return array_to_images(out.numpy())

    def transform(self, images: torch.Tensor, strength: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Per batch: image ``i`` (with probability ``strength[i]``) goes through a translator drawn at random (a
        batch does not carry the domain; :func:`apply_style_transfer` is the domain-aware use)."""
        if images.ndim != 4:
            raise ValueError(f"expected a (B, C, H, W) batch, got shape {tuple(images.shape)}")
        if not hasattr(self, "translators_"):
            raise BalancingError("style_transfer must be fitted on the project's two domains before it transforms")
        chosen = torch.rand(images.shape[0], generator=generator) < strength.float().clamp(0, 1)
        which = torch.randint(0, 2, (images.shape[0],), generator=generator)
        out = images.clone()
        with torch.no_grad():
            for i in chosen.nonzero().flatten().tolist():
                net = self.translators_[self.domains_[int(which[i])]]
                x = F.interpolate(images[i:i + 1] * 2 - 1, size=(self.image_size, self.image_size), mode="bilinear")
                if x.shape[1] != self.channels:
                    x = x.mean(1, keepdim=True).expand(-1, self.channels, -1, -1)
                y = F.interpolate(net(x), size=images.shape[-2:], mode="bilinear")
                out[i] = ((y[0].mean(0, keepdim=True) if images.shape[1] != self.channels else y[0]) + 1) / 2
        return out.clamp(0, 1)


def apply_style_transfer(ts: TrainingSet, domains: Sequence[Any], params: dict[str, Any],
                         rng: np.random.Generator) -> None:
    """Translate the minority classes' real images into the other domain; add those that pass the gates as synthetic
    rows of ``ts`` (``domains`` aligned with ``ts``'s real rows). A failed training leaves ``ts`` as it was and says
    why in ``ts.info["skipped"]``."""
    options = dict(params.get(NAME) or {})
    augmenter = StyleTransferAugmenter(**options)
    real = ~ts.synthetic_mask
    X_real = [x for x, r in zip(ts.X, real, strict=True) if r]
    y_real = [label for label, r in zip(ts.y, real, strict=True) if r]
    domains = [None if d is None else str(d) for d in domains]
    counts = Counter(y_real)
    minority = {c for c, n in counts.items() if n < max(counts.values())}
    started = time.perf_counter()
    try:
        augmenter.fit(X_real, domains, rng=rng)
        images: list[np.ndarray] = []
        labels: list[str] = []
        for source in augmenter.domains_:
            idx = [i for i, (y, d) in enumerate(zip(y_real, domains, strict=True)) if y in minority and d == source]
            images += augmenter.translate([X_real[i] for i in idx], source)
            labels += [y_real[i] for i in idx]
    except (BalancingError, RuntimeError, ValueError) as exc:
        ts.info.setdefault("skipped", []).append(
            f"{NAME}: the translation failed ({type(exc).__name__}: {exc}); trained without augmented items")
        ts.info["synthetic_seconds"] = round(time.perf_counter() - started, 3)
        return
    keep = np.ones(len(images), dtype=bool)
    confidence = np.full(len(images), np.nan)
    threshold = float(params.get("gate_threshold", 0.5))
    min_novelty = float(params.get("min_novelty", 0.1))
    if images and params.get("quality_gate", True):
        classify, classes = pixel_classifier(X_real, y_real, random_state=int(rng.integers(0, 2**31 - 1)))
        keep, confidence = quality_gate(images, labels, classify=classify, classes=classes, threshold=threshold)
    if images and min_novelty > 0:
        novel, _ = novelty_gate(images, labels, real_images=X_real, real_labels=y_real, min_novelty=min_novelty)
        keep = keep & novel
    chosen = np.flatnonzero(keep).tolist()
    batch = SyntheticBatch(images=[images[i] for i in chosen], labels=[labels[i] for i in chosen],
                           confidence=confidence[chosen], generator=NAME,
                           config=augmenter.get_params() | {"gate_threshold": threshold, "min_novelty": min_novelty},
                           rejected=len(images) - len(chosen))
    ts.X = list(ts.X) + batch.images
    ts.y = ts.y + batch.labels
    ts.synthetic_mask = np.concatenate([ts.synthetic_mask, np.ones(len(chosen), dtype=bool)])
    if ts.sample_weight is not None:
        ts.sample_weight = np.concatenate([ts.sample_weight, np.ones(len(chosen))])
    ts.info.update(synthetic=batch, synthetic_drawn=len(images), synthetic_cost=augmenter.cost_,
                   synthetic_seconds=round(time.perf_counter() - started, 3))
    ts.info.setdefault("applied", []).append(NAME)
    if images and not chosen:
        ts.info.setdefault("skipped", []).append(
            f"{NAME}: none of the {len(images)} translated images passed the quality gates; trained without "
            "augmented items")
