"""Diffusion synthesis of minority-class images (registered as ``labelsieve.synthesizers``).

- :class:`DDPMSynthesizer` (``ddpm``): a small class-conditional ``UNet2DModel`` and a DDPM noise
  schedule built from config (no download), trained from scratch on the project's labelled
  images (DiffuLT-style), with an EMA of the weights, then sampled with DDIM. Practical on a CPU
  for small images (≤ 32 px); timings and sample quality: docs, Balancing.
- :class:`StableDiffusionImg2ImgSynthesizer` (``sd_img2img``): image-to-image variations of real
  minority images (SDEdit / DA-Fusion style) from a Stable Diffusion checkpoint in a **local
  directory** the user gives; never downloads (a hub id fails with a clear message).

diffusers / transformers are the optional extra ``labelsieve[diffusion]`` and are imported lazily.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from labelsieve.arrays import to_pil
from labelsieve.balancing.base import BalancingError, Synthesizer
from labelsieve.balancing.sd_pipelines import (
    RealImageSynthesizer,
    local_checkpoint,
    pipeline_device,
    require_diffusers,
)
from labelsieve.devices import resolve_device


def images_to_array(images: Sequence[Any], size: int, channels: int) -> np.ndarray:
    """``(n, channels, size, size)`` float32 in [-1, 1]."""

    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(images), channels, size, size), dtype=np.float32)
    for i, item in enumerate(images):
        pil = to_pil(item).convert(mode)
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BILINEAR)
        array = np.asarray(pil, dtype=np.float32) / 127.5 - 1.0
        out[i] = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return out


def array_to_images(batch: np.ndarray) -> list[np.ndarray]:
    """``(n, C, H, W)`` in [-1, 1] → uint8 ``H×W`` (grey) or ``H×W×3`` arrays."""
    pixels = np.clip((batch + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    return [p[0] if p.shape[0] == 1 else p.transpose(1, 2, 0) for p in pixels]


class DDPMSynthesizer(Synthesizer):
    """Class-conditional DDPM trained from scratch on the labelled images, sampled with DDIM."""

    def __init__(
        self, *, image_size: int = 8, channels: int = 1, block_out_channels: tuple[int, ...] = (32, 64),
        train_steps: int = 600, batch_size: int = 128, lr: float = 2e-3, warmup_steps: int = 50,
        ema_decay: float = 0.995, label_dropout: float = 0.1, guidance_scale: float = 1.0,
        inference_steps: int = 50, random_state: int = 0,
    ) -> None:
        self.image_size = image_size
        self.channels = channels
        self.block_out_channels = block_out_channels
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.lr = lr
        self.warmup_steps = warmup_steps
        self.ema_decay = ema_decay
        self.label_dropout = label_dropout
        self.guidance_scale = guidance_scale
        self.inference_steps = inference_steps
        self.random_state = random_state

    def _build(self, n_classes: int) -> tuple[Any, Any]:
        diffusers = require_diffusers()
        levels = len(self.block_out_channels)
        if self.image_size % (2 ** (levels - 1)):
            raise BalancingError(f"image_size {self.image_size} must be divisible by {2 ** (levels - 1)}")
        unet = diffusers.UNet2DModel(
            sample_size=self.image_size, in_channels=self.channels, out_channels=self.channels, layers_per_block=1,
            norm_num_groups=8, attention_head_dim=8, block_out_channels=tuple(self.block_out_channels),
            down_block_types=("DownBlock2D",) * (levels - 1) + ("AttnDownBlock2D",),
            up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (levels - 1),
            num_class_embeds=n_classes + 1,  # the last id is the "no label" token for guidance
        )
        scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
        return unet, scheduler

    def fit(self, images: Sequence[Any], labels: Sequence[str], *, rng: np.random.Generator) -> DDPMSynthesizer:
        self.classes_ = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.classes_)}
        device = resolve_device()  # the round's device (labelsieve.devices); draws stay on the CPU
        x0_all = torch.from_numpy(images_to_array(images, self.image_size, self.channels)).to(device)
        c_all = torch.tensor([index[label] for label in labels], dtype=torch.long, device=device)
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            unet, scheduler = self._build(len(self.classes_))
        unet.to(device)
        ema = copy.deepcopy(unet).requires_grad_(False)
        optimiser = torch.optim.AdamW(unet.parameters(), lr=self.lr)
        warm = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / max(1, self.warmup_steps)))
        unet.train(True)
        n, null = len(c_all), len(self.classes_)
        for _step in range(self.train_steps):
            idx = torch.randint(0, n, (min(self.batch_size, n),), generator=generator)
            idx = idx.to(device)
            x0, c = x0_all[idx], c_all[idx].clone()
            c[(torch.rand(len(c), generator=generator) < self.label_dropout).to(device)] = null
            noise = torch.randn(x0.shape, generator=generator).to(device)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (len(c),), generator=generator).to(device)
            pred = unet(scheduler.add_noise(x0, noise, t), t, class_labels=c).sample
            loss = F.mse_loss(pred, noise)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            warm.step()
            with torch.no_grad():
                for p_ema, p in zip(ema.parameters(), unet.parameters(), strict=True):
                    p_ema.lerp_(p, 1.0 - self.ema_decay)
        ema.train(False)
        self.unet_, self.scheduler_config_ = ema, dict(scheduler.config)
        self.final_loss_ = float(loss.detach())
        return self

    def sample(self, counts: dict[str, int], *, rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
        diffusers = require_diffusers()
        labels = [label for label, k in counts.items() for _ in range(int(k))]
        unknown = sorted(set(labels) - set(self.classes_))
        if unknown:
            raise BalancingError(f"the DDPM was not trained on class(es) {unknown}; it knows {self.classes_}")
        if not labels:
            return [], []
        index = {label: i for i, label in enumerate(self.classes_)}
        generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        ddim = diffusers.DDIMScheduler.from_config(self.scheduler_config_)
        ddim.set_timesteps(self.inference_steps)
        images: list[np.ndarray] = []
        device = resolve_device()
        self.unet_.to(device)
        with torch.no_grad():
            for start in range(0, len(labels), 256):
                chunk = labels[start:start + 256]
                c = torch.tensor([index[label] for label in chunk], dtype=torch.long, device=device)
                x = torch.randn((len(c), self.channels, self.image_size, self.image_size),
                                generator=generator).to(device)
                for t in ddim.timesteps:
                    eps = self.unet_(x, t, class_labels=c).sample
                    if self.guidance_scale != 1.0:
                        eps_null = self.unet_(x, t, class_labels=torch.full_like(c, len(self.classes_))).sample
                        eps = eps_null + self.guidance_scale * (eps - eps_null)
                    x = ddim.step(eps, t, x).prev_sample
                images.extend(array_to_images(x.cpu().numpy()))
        return images, labels

    def save(self, directory: Path) -> None:
        """Write the EMA UNet and the scheduler config in diffusers layout (reload with ``from_pretrained``)."""
        self.unet_.save_pretrained(str(Path(directory) / "unet"))
        require_diffusers().DDPMScheduler.from_config(self.scheduler_config_).save_pretrained(
            str(Path(directory) / "scheduler")
        )


class StableDiffusionImg2ImgSynthesizer(RealImageSynthesizer):
    """Image-to-image variations of real minority images from a local Stable Diffusion checkpoint."""

    def __init__(
        self, *, model_path: str | None = None, prompt: str = "a photo of {label}", strength: float = 0.6,
        guidance_scale: float = 5.0, inference_steps: int = 20, image_size: int = 512, random_state: int = 0,
    ) -> None:
        self.model_path = model_path
        self.prompt = prompt
        self.strength = strength
        self.guidance_scale = guidance_scale
        self.inference_steps = inference_steps
        self.image_size = image_size
        self.random_state = random_state

    def check(self) -> None:
        local_checkpoint(self.model_path, "sd_img2img", "model_path", "model_index.json")

    def load_pipeline(self) -> Any:
        self.check()
        path = Path(str(self.model_path)).expanduser()
        diffusers = require_diffusers()
        device, dtype = pipeline_device()
        try:
            pipeline = diffusers.StableDiffusionImg2ImgPipeline.from_pretrained(
                str(path), local_files_only=True, safety_checker=None, requires_safety_checker=False, dtype=dtype)
        except (OSError, ValueError, ImportError, TypeError) as exc:
            raise BalancingError(f"could not load a Stable Diffusion pipeline from {path}: {exc}") from exc
        return pipeline.to(device)

    def draw(self, label: str, reals: list[Any], generator: torch.Generator) -> np.ndarray:
        inits = [to_pil(image).convert("RGB").resize((self.image_size, self.image_size)) for image in reals]
        return self.pipeline_(
            prompt=[self.prompt.format(label=label)] * len(inits), image=inits, strength=self.strength,
            guidance_scale=self.guidance_scale, num_inference_steps=self.inference_steps,
            generator=generator, output_type="np",
        ).images
