"""What a learner is fitted on after balancing: rows (real first, synthetic last), weights and overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TrainingSet:
    """What to fit: rows (real first, synthetic last), weights, learner overrides, synthetic flags."""

    X: Any
    y: list[str]
    sample_weight: np.ndarray | None
    learner_overrides: dict[str, Any]
    synthetic_mask: np.ndarray
    #: the methods actually applied, fallbacks, and the synthetic batch (for storage)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_real(self) -> int:
        return int((~self.synthetic_mask).sum())
