"""Decoupled long-tail training for torch learners with a linear head (Kang et al. 2020; Cao et al. 2019).

- **Deferred re-weighting** (DRW, Cao et al. NeurIPS 2019): train with the configured loss, then for the last
  ``1 - drw_start`` of the epochs multiply each sample's loss by the class-balanced weight of its class
  (effective number, ``drw_beta``). The representation is learnt from the natural distribution first; the
  re-weighting only moves the decision boundary late, when it no longer distorts the features.
  :func:`drw_class_weights` gives the per-class factors and :func:`drw_active` says when they apply.
- **Classifier re-training** (cRT, Kang et al. ICLR 2020): after representation learning, freeze the backbone,
  re-initialise the linear head and train only it on the frozen embeddings of the training images with
  class-balanced sampling (:func:`retrain_head`).
- **τ-normalised classifier** (Kang et al. 2020): divide each class's weight vector by its norm to the power
  ``norm_tau`` and drop the bias (:func:`tau_normalise_head`): heads trained on a long tail have larger weight
  norms for the head classes, which is what pushes predictions towards them.

All randomness comes from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labelsieve.balancing.losses import effective_number_weights

CLASSIFIERS = ("joint", "crt", "tau_norm")


def drw_class_weights(counts: np.ndarray, beta: float) -> torch.Tensor:
    """Per-class loss factors of the deferred phase: effective-number weights, mean 1 over present classes."""
    return torch.as_tensor(effective_number_weights(counts, beta), dtype=torch.float32)


def drw_active(epoch: int, epochs: int, drw_start: float | None) -> bool:
    """True from epoch ``ceil(drw_start * epochs)`` on (never when ``drw_start`` is None)."""
    return drw_start is not None and epoch >= int(np.ceil(drw_start * epochs))


def retrain_head(
    head: nn.Linear, embeddings: torch.Tensor, targets: torch.Tensor, *, epochs: int, batch_size: int, lr: float,
    weight_decay: float, generator: torch.Generator,
) -> None:
    """cRT: re-initialise ``head`` and fit it on frozen ``embeddings`` with class-balanced sampling (in place)."""
    if epochs <= 0:
        return
    n_classes = head.out_features
    counts = torch.bincount(targets, minlength=n_classes).double()
    probs = (1.0 / counts.clamp_min(1.0))[targets]
    probs = probs / probs.sum()
    with torch.no_grad():
        bound = 1.0 / np.sqrt(head.in_features)
        head.weight.uniform_(-bound, bound, generator=generator)
        head.bias.uniform_(-bound, bound, generator=generator)
    optimiser = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(targets)
    steps = max(1, -(-n // batch_size))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * steps)
    embeddings = embeddings.detach()
    for _epoch in range(epochs):
        order = torch.multinomial(probs, n, replacement=True, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(head(embeddings[idx]), targets[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()


def tau_normalise_head(head: nn.Linear, tau: float) -> None:
    """τ-norm: ``w_c <- w_c / ||w_c||^tau`` and bias 0 (in place)."""
    with torch.no_grad():
        norms = head.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        head.weight.div_(norms.pow(tau))
        head.bias.zero_()


def rebalance_classifier(
    head: nn.Linear, embeddings: torch.Tensor, targets: torch.Tensor, *, classifier: str, crt_epochs: int,
    norm_tau: float, batch_size: int, lr: float, weight_decay: float, generator: torch.Generator,
) -> None:
    """Apply the second stage ``classifier`` (one of :data:`CLASSIFIERS`) to a trained ``head``."""
    if classifier not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {classifier!r}; choose one of {', '.join(CLASSIFIERS)}")
    if classifier == "crt":
        retrain_head(head, embeddings, targets, epochs=crt_epochs, batch_size=batch_size, lr=lr,
                     weight_decay=weight_decay, generator=generator)
    elif classifier == "tau_norm":
        tau_normalise_head(head, norm_tau)
