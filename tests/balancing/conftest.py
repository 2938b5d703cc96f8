from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.api.conftest import client, client_factory  # noqa: F401  (service fixtures)


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """8x8 digits as uint8 images and string labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0 * 255).round().astype(np.uint8), data.target.astype(str)


def long_tail(labels: np.ndarray, *, seed: int, head: int, tail: int, tail_classes: tuple[str, ...],
              pool: slice = slice(0, 120)) -> np.ndarray:
    """Indices: ``head`` images of every class, ``tail`` of ``tail_classes``, drawn from ``pool`` per class."""
    rng = np.random.default_rng(seed)
    out = []
    for c in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == c)[pool]
        out.extend(rng.choice(members, tail if c in tail_classes else head, replace=False).tolist())
    return np.asarray(out)
