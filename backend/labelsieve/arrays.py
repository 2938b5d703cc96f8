"""Array and image helpers shared by learners and balancing (neither imports the other for them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image


def as_matrix(X: Sequence[Any]) -> np.ndarray:
    """Stack 1-D vectors (lists, arrays, flattened images) into a float32 matrix."""
    if isinstance(X, np.ndarray) and X.ndim == 2:
        return X.astype(np.float32, copy=False)
    rows = [np.asarray(x, dtype=np.float32).reshape(-1) for x in X]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(rows)


def to_pil(item: Any) -> Image.Image:
    if isinstance(item, Image.Image):
        return item
    array = np.asarray(item)
    if array.dtype != np.uint8:
        top = float(array.max()) if array.size else 1.0
        array = np.clip(array / (top if top > 0 else 1.0) * 255.0, 0, 255).astype(np.uint8)
    return Image.fromarray(array)
