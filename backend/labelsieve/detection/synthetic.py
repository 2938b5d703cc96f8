"""A generated detection data set: coloured shapes on noisy backgrounds, made by code (no download).

Classes ``square``, ``disc``, ``triangle`` are common; ``cross`` is rare (``rare_fraction`` of objects). Some images
hold no object at all, so the "nothing predicted" rule is exercised. Images are small (``size`` px) so a detector
trains on a CPU in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from labelsieve.detection.targets import ImageTarget

SHAPES = ("square", "disc", "triangle", "cross")
RARE = "cross"


@dataclass
class DetectionDataset:
    images: list[Image.Image]
    targets: list[ImageTarget]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray | list[int]) -> DetectionDataset:
        return DetectionDataset([self.images[i] for i in indices], [self.targets[i] for i in indices], self.classes)

    @property
    def n_boxes(self) -> int:
        return sum(len(t) for t in self.targets)


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    base = rng.integers(0, 90, size=3)
    gradient = np.linspace(0, rng.integers(0, 60), size)[None, :, None]
    noise = rng.normal(0, 12, size=(size, size, 3))
    pixels = np.clip(base[None, None, :] + gradient + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], colour: tuple[int, ...]) -> None:
    x1, y1, x2, y2 = box
    if shape == "square":
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=colour)
    elif shape == "disc":
        draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=colour)
    elif shape == "triangle":
        draw.polygon([((x1 + x2) / 2, y1), (x2 - 1, y2 - 1), (x1, y2 - 1)], fill=colour)
    else:  # cross
        w, h = x2 - x1, y2 - y1
        draw.rectangle((x1 + w // 3, y1, x2 - 1 - w // 3, y2 - 1), fill=colour)
        draw.rectangle((x1, y1 + h // 3, x2 - 1, y2 - 1 - h // 3), fill=colour)


def _overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    return any(box[0] < o[2] and o[0] < box[2] and box[1] < o[3] and o[1] < box[3] for o in others)


def make_shapes(
    n_images: int, *, size: int = 64, max_objects: int = 3, rare_fraction: float = 0.06,
    empty_fraction: float = 0.1, seed: int = 0,
) -> DetectionDataset:
    """``n_images`` images of ``size``×``size`` with 0..``max_objects`` non-overlapping shapes each."""
    rng = np.random.default_rng(seed)
    common = [s for s in SHAPES if s != RARE]
    images: list[Image.Image] = []
    targets: list[ImageTarget] = []
    for _ in range(n_images):
        image = _background(rng, size)
        draw = ImageDraw.Draw(image)
        n_objects = 0 if rng.random() < empty_fraction else int(rng.integers(1, max_objects + 1))
        boxes: list[tuple[int, int, int, int]] = []
        labels: list[str] = []
        for _attempt in range(n_objects * 10):
            if len(boxes) == n_objects:
                break
            side = int(rng.integers(size // 6, size // 3 + 1))
            x1, y1 = int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))
            box = (x1, y1, x1 + side, y1 + side)
            if _overlaps(box, boxes):
                continue
            shape = RARE if rng.random() < rare_fraction else common[int(rng.integers(len(common)))]
            colour = tuple(int(c) for c in rng.integers(140, 256, size=3))
            _draw(draw, shape, box, colour)
            boxes.append(box)
            labels.append(shape)
        array = np.array(boxes, dtype=np.float32).reshape(-1, 4)
        images.append(image)
        targets.append(ImageTarget(array, labels, size, size))
    return DetectionDataset(images, targets, SHAPES)
