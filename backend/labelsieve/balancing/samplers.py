"""Batch samplers for torch training.

- ``uniform``: a random permutation per epoch (every sample once).
- ``class_balanced``: draws with replacement with probability ``∝ 1 / n_c`` (each class equally
  often), the torch analogue of ``RandomOverSampler``.
- ``loss_weighted``: a dynamic sampler that draws hard examples more often. Each sample keeps an
  exponential moving average of its training loss; draws are ``∝ (ema + eps) ** power``, mixed
  with ``uniform_mix`` of the uniform distribution so no sample starves.

All draws come from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLERS = ("uniform", "class_balanced", "loss_weighted")


class EpochSampler:
    """Yields index batches for one epoch; ``update`` feeds back per-sample losses."""

    def __init__(
        self, *, sampler: str = "uniform", targets: np.ndarray, batch_size: int,
        generator: torch.Generator, power: float = 1.0, momentum: float = 0.7, uniform_mix: float = 0.2,
    ) -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
        self.sampler = sampler
        self.targets = np.asarray(targets, dtype=np.int64)
        self.batch_size = batch_size
        self.generator = generator
        self.power = power
        self.momentum = momentum
        self.uniform_mix = uniform_mix
        n = len(self.targets)
        self.loss_ema = torch.ones(n, dtype=torch.float64)
        counts = np.bincount(self.targets)
        self.class_probs = torch.as_tensor(1.0 / counts[self.targets], dtype=torch.float64)

    def probabilities(self) -> torch.Tensor:
        n = len(self.targets)
        if self.sampler == "class_balanced":
            probs = self.class_probs
        elif self.sampler == "loss_weighted":
            probs = (self.loss_ema + 1e-3) ** self.power
        else:
            return torch.full((n,), 1.0 / n, dtype=torch.float64)
        probs = probs / probs.sum()
        if self.sampler == "loss_weighted":
            probs = (1.0 - self.uniform_mix) * probs + self.uniform_mix / n
        return probs

    def epoch(self) -> list[torch.Tensor]:
        n = len(self.targets)
        if self.sampler == "uniform":
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.multinomial(self.probabilities(), n, replacement=True, generator=self.generator)
        return [order[start:start + self.batch_size] for start in range(0, n, self.batch_size)]

    def update(self, indices: torch.Tensor, losses: torch.Tensor) -> None:
        """Record the latest per-sample losses of ``indices`` (used by ``loss_weighted``)."""
        if self.sampler != "loss_weighted":
            return
        losses = losses.detach().to(torch.float64)
        old = self.loss_ema[indices]
        self.loss_ema[indices] = self.momentum * old + (1.0 - self.momentum) * losses
