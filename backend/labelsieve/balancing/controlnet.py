"""ControlNet-conditioned Stable Diffusion synthesis (registered as ``labelsieve.synthesizers`` ``sd_controlnet``).

:class:`ControlNetSynthesizer` draws new images of a minority class whose shape and position follow a real image of
that class: an edge map of a randomly picked real minority image (PIL's edge filter on the grey image, thresholded at
``edge_threshold`` and dilated by ``edge_width``) conditions a ControlNet on top of Stable Diffusion. With
``strength`` set, the real image is also the img2img start (``StableDiffusionControlNetImg2ImgPipeline``: keeps more
of the original's look); with ``strength=None`` the image is drawn from noise (``StableDiffusionControlNetPipeline``:
only the edges are kept, texture and shading are new).

Both checkpoints are **local directories** in diffusers layout (``model_path``: the Stable Diffusion pipeline,
``controlnet_path``: a ``ControlNetModel`` trained for edge conditioning, e.g. a Canny or scribble ControlNet saved
with ``save_pretrained``); labelsieve never downloads weights. Runs on the round's device (the ``device``
setting): CUDA in float16 when a GPU is present, else the CPU in float32 (minutes per image at 512 px: use it on a
GPU). diffusers is the optional extra ``labelsieve[diffusion]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from labelsieve.arrays import to_pil
from labelsieve.balancing.base import BalancingError
from labelsieve.balancing.sd_pipelines import (
    RealImageSynthesizer,
    local_checkpoint,
    pipeline_device,
    require_diffusers,
)


def edge_map(image: Any, size: int, threshold: int, width: int) -> Image.Image:
    """White edges on black, RGB, ``size``×``size``: the ControlNet condition made from one real image."""
    grey = to_pil(image).convert("L").resize((size, size), Image.Resampling.BILINEAR)
    edges = grey.filter(ImageFilter.FIND_EDGES).point(lambda v: 255 if v >= threshold else 0)
    if width > 1:
        edges = edges.filter(ImageFilter.MaxFilter(2 * (width // 2) + 1))
    return edges.convert("RGB")


class ControlNetSynthesizer(RealImageSynthesizer):
    """Stable Diffusion + an edge ControlNet, both from local directories, conditioned on minority images' edges."""

    def __init__(
        self, *, model_path: str | None = None, controlnet_path: str | None = None,
        prompt: str = "a photo of {label}", strength: float | None = None, guidance_scale: float = 5.0,
        conditioning_scale: float = 1.0, inference_steps: int = 20, image_size: int = 512, edge_threshold: int = 40,
        edge_width: int = 1, random_state: int = 0,
    ) -> None:
        self.model_path = model_path
        self.controlnet_path = controlnet_path
        self.prompt = prompt
        self.strength = strength
        self.guidance_scale = guidance_scale
        self.conditioning_scale = conditioning_scale
        self.inference_steps = inference_steps
        self.image_size = image_size
        self.edge_threshold = edge_threshold
        self.edge_width = edge_width
        self.random_state = random_state

    def check(self) -> None:
        local_checkpoint(self.model_path, "sd_controlnet", "model_path", "model_index.json")
        local_checkpoint(self.controlnet_path, "sd_controlnet", "controlnet_path", "config.json")
        if self.strength is not None and not 0.0 < float(self.strength) <= 1.0:
            raise BalancingError(f"sd_controlnet strength must be in (0, 1] or null, got {self.strength!r}")
        if not isinstance(self.image_size, int) or self.image_size < 8 or self.image_size % 8:
            raise BalancingError(f"sd_controlnet image_size must be a multiple of 8, got {self.image_size!r}")
        if not 0 <= int(self.edge_threshold) <= 255 or int(self.edge_width) < 1:
            raise BalancingError("sd_controlnet edge_threshold must be in [0, 255] and edge_width >= 1")
        if int(self.inference_steps) < 1:
            raise BalancingError(f"sd_controlnet inference_steps must be >= 1, got {self.inference_steps!r}")

    def load_pipeline(self) -> Any:
        self.check()
        diffusers = require_diffusers()
        device, dtype = pipeline_device()
        pipeline_cls = (diffusers.StableDiffusionControlNetPipeline if self.strength is None
                        else diffusers.StableDiffusionControlNetImg2ImgPipeline)
        try:
            controlnet = diffusers.ControlNetModel.from_pretrained(
                str(Path(str(self.controlnet_path)).expanduser()), local_files_only=True, dtype=dtype)
            pipeline = pipeline_cls.from_pretrained(
                str(Path(str(self.model_path)).expanduser()), controlnet=controlnet, local_files_only=True,
                safety_checker=None, requires_safety_checker=False, dtype=dtype)
        except (OSError, ValueError, ImportError, TypeError) as exc:
            raise BalancingError(f"could not load Stable Diffusion + ControlNet from local directories: {exc}") from exc
        return pipeline.to(device)

    def draw(self, label: str, reals: list[Any], generator: torch.Generator) -> np.ndarray:
        edges = [edge_map(image, self.image_size, int(self.edge_threshold), int(self.edge_width)) for image in reals]
        call: dict[str, Any] = {
            "prompt": [self.prompt.format(label=label)] * len(edges), "guidance_scale": self.guidance_scale,
            "num_inference_steps": self.inference_steps, "controlnet_conditioning_scale": self.conditioning_scale,
            "generator": generator, "output_type": "np", "height": self.image_size, "width": self.image_size,
        }
        if self.strength is None:
            call["image"] = edges
        else:
            call |= {"image": [to_pil(image).convert("RGB").resize((self.image_size, self.image_size))
                               for image in reals], "control_image": edges, "strength": float(self.strength)}
        return self.pipeline_(**call).images
