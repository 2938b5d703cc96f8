"""Plugin contracts for balancing. These docstrings are the plugin author's documentation.

Two kinds of balancing plugin are looked up by name through entry-point groups:

``labelsieve.augmenters``
    Subclasses of :class:`Augmenter`: image-space transforms applied while a torch learner
    trains. The learner asks for ``augmenter.transform(images, strength)`` on each batch, with a
    per-image ``strength`` in ``[0, 1]`` that is higher for minority classes.

``labelsieve.synthesizers``
    Subclasses of :class:`Synthesizer`: generators that learn from (or start from) the labelled
    images and produce *new* images for chosen classes. Synthetic images are marked synthetic
    everywhere: they are stored in the ``SyntheticSample`` table, never become annotations, are
    never pushed to Label Studio, and never count as labels.

Both follow the scikit-learn discipline: ``__init__`` only stores keyword parameters, all
randomness comes from the ``torch.Generator`` / ``np.random.Generator`` passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from labelsieve.params import constructor_params


class BalancingError(ValueError):
    """A balancing method cannot run on this data; the message says why and what to use instead."""


class _Params:
    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in constructor_params(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Augmenter(_Params, ABC):
    """An image-space augmentation applied per training batch.

    Implement :meth:`transform`. ``images`` is a float tensor ``(B, C, H, W)`` in ``[0, 1]``;
    ``strength`` is a ``(B,)`` float tensor in ``[0, 1]`` (0 = leave the image as is, 1 = full
    augmentation). Return a tensor of the same shape, dtype and value range. Use ``generator``
    (a ``torch.Generator``) for every random decision you make yourself; torchvision v2
    transforms draw from the torch RNG, which the learner seeds inside ``fork_rng``.
    """

    @abstractmethod
    def transform(self, images: torch.Tensor, strength: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augmented copy of ``images``; image ``i`` is changed with probability ``strength[i]``."""


@dataclass
class SyntheticBatch:
    """What a synthesizer returns: images (uint8 ``H×W`` or ``H×W×3`` arrays), their intended
    labels, the quality-gate confidence of each (``nan`` when ungated), and the generator config."""

    images: list[np.ndarray]
    labels: list[str]
    confidence: np.ndarray
    generator: str
    config: dict[str, Any] = field(default_factory=dict)
    rejected: int = 0


class Synthesizer(_Params, ABC):
    """A generator of new labelled images for under-represented classes.

    Implement :meth:`fit` (learn from the labelled images; may do nothing for a pretrained
    generator) and :meth:`sample` (``counts`` maps class name → how many images to return).
    Images are ``uint8`` numpy arrays. The caller applies the quality gate
    (:func:`labelsieve.balancing.quality.quality_gate`) so plugins need not.
    """

    #: the learner input kinds this synthesizer can produce ("image")
    input_kinds: tuple[str, ...] = ("image",)

    def check(self) -> None:
        """Raise :class:`BalancingError` when the parameters cannot work (called at ``/setup``)."""

    @abstractmethod
    def fit(self, images: Sequence[Any], labels: Sequence[str], *, rng: np.random.Generator) -> Synthesizer:
        """Learn from the real labelled images; return ``self``."""

    @abstractmethod
    def sample(self, counts: dict[str, int], *, rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
        """``counts[label]`` new images per label, as (images, labels) in matching order."""


#: shown with every version that used synthesis (README, Balancing: benchmarks/imbalance_synthesis.py)
SYNTHESIS_EVIDENCE = (
    "long-tailed digits, imbalance ratio 50 (1 seed): DDPM synthesis on top of logit adjustment gained 0.5-1.1 "
    "macro-F1, within seed noise and below simply raising tau to 1.5 (no synthesis, ~1% of the cost); not "
    "switched on by 'auto'"
)


def balancing_summary(info: dict[str, Any]) -> dict[str, Any]:
    """The JSON-safe part of ``TrainingSet.info`` recorded with the model version: what was applied, the seconds
    balancing took before the fit (synthesis and validation folds are the costly parts), the chosen τ."""
    out: dict[str, Any] = {k: info[k] for k in ("requested", "applied", "auto_ratio", "skipped", "seconds",
                                               "logit_adjusted_cv") if k in info}
    batch = info.get("synthetic")
    if isinstance(batch, SyntheticBatch):
        out["synthetic"] = {"generator": batch.generator, "kept": len(batch.labels), "rejected": batch.rejected,
                            "drawn": info.get("synthetic_drawn", len(batch.labels)),
                            "seconds": info.get("synthetic_seconds"), "evidence": SYNTHESIS_EVIDENCE}
        if info.get("synthetic_cost"):
            out["synthetic"]["cost"] = info["synthetic_cost"]
    return out
