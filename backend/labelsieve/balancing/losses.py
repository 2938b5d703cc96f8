"""Long-tail losses for torch learners (Cui et al. 2019, Lin et al. 2017, Cao et al. 2019, Menon et al. 2021).

- ``ce``: plain cross-entropy.
- ``weighted``: inverse-frequency class weights ``w_c = N / (K n_c)``.
- ``effective_number``: class-balanced weights of Cui et al. (CVPR 2019),
  ``w_c ∝ (1 - beta) / (1 - beta ** n_c)``, normalised to mean 1 over the classes.
- ``logit_adjusted``: Menon et al. (ICLR 2021), ``CE(logits + tau * log pi_c)``.
- ``balanced_softmax``: Ren et al. (NeurIPS 2020), ``CE(logits + log n_c)``; equal to
  ``logit_adjusted`` with ``tau = 1`` (a constant shift of every logit changes nothing).

Only the training loss changes: predictions use the plain logits, so the adjustment shifts the
decision boundary toward the rare classes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

LOSSES = ("ce", "weighted", "effective_number", "logit_adjusted", "balanced_softmax")


def class_counts(targets: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(np.asarray(targets, dtype=np.int64), minlength=n_classes).astype(np.float64)


def inverse_frequency_weights(counts: np.ndarray) -> np.ndarray:
    """``N / (K n_c)`` (scikit-learn's ``class_weight='balanced'``); absent classes get 0."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def effective_number_weights(counts: np.ndarray, beta: float = 0.999) -> np.ndarray:
    """Class-balanced weights ``(1 - beta) / (1 - beta ** n_c)``, mean 1 over present classes."""
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = (1.0 - beta) / (1.0 - np.power(beta, counts[present]))
    weights[present] *= present.sum() / weights[present].sum()
    return weights


class LongTailLoss:
    """Per-sample loss for one of :data:`LOSSES`, built from the training class counts."""

    def __init__(self, *, loss: str = "ce", counts: np.ndarray, tau: float = 1.0, beta: float = 0.999) -> None:
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        self.loss = loss
        counts = np.asarray(counts, dtype=np.float64)
        self.class_weight: torch.Tensor | None = None
        self.shift: torch.Tensor | None = None
        if loss == "weighted":
            self.class_weight = torch.as_tensor(inverse_frequency_weights(counts), dtype=torch.float32)
        elif loss == "effective_number":
            self.class_weight = torch.as_tensor(effective_number_weights(counts, beta), dtype=torch.float32)
        elif loss in ("logit_adjusted", "balanced_softmax"):
            prior = np.clip(counts, 1e-3, None) / max(counts.sum(), 1.0)
            factor = 1.0 if loss == "balanced_softmax" else tau
            self.shift = torch.as_tensor(factor * np.log(prior), dtype=torch.float32)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``(B,)`` losses; ``targets`` are class indices ``(B,)`` or soft labels ``(B, K)`` (MixUp/CutMix)."""
        if self.shift is not None:
            logits = logits + self.shift.to(logits.dtype)
        if targets.ndim == 2:
            losses = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
            if self.class_weight is not None:
                losses = losses * (targets @ self.class_weight.to(logits.dtype))
            return losses
        losses = F.cross_entropy(logits, targets, reduction="none")
        if self.class_weight is not None:
            losses = losses * self.class_weight.to(logits.dtype)[targets]
        return losses
