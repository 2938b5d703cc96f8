from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits


def noisy_digits(noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, given labels, true labels, indices of the flipped items): symmetric noise, a flip never
    lands on the true class."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    given = y.copy()
    flipped = np.sort(rng.choice(len(y), int(round(noise * len(y))), replace=False))
    for i in flipped:
        given[i] = rng.choice([c for c in range(10) if c != y[i]])
    return X.astype(np.float32), given, y, flipped
