"""What a simulation is asked to run, how it reports progress, and how it refuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class SimulationError(ValueError):
    """The simulation cannot run as asked; the message says why."""


@dataclass(frozen=True)
class SimulationConfig:
    strategies: tuple[str, ...] = ("margin", "random")
    initial: int | None = None  # default: two per class
    batch_size: int = 10
    budget: int = 400
    seeds: int = 10
    learner: str = "auto"
    learner_params: dict[str, Any] = field(default_factory=dict)
    balancing: str | None = None
    balancing_params: dict[str, Any] = field(default_factory=dict)
    test_fraction: float = 0.2
    base_seed: int = 0
    scorecard: bool = False  # score the labelled set of each run's final model (labelsieve.quality)
    initial_sampling: str = "stratified"  # or "random": the seed set need not hold every class


class RunProgress(Protocol):
    def run_started(self, strategy: str, seed: int, rounds: int) -> None: ...
    def round_done(self, strategy: str, seed: int) -> None: ...
    def run_finished(self, strategy: str, seed: int) -> None: ...


class NoRunProgress:
    def run_started(self, strategy: str, seed: int, rounds: int) -> None:
        pass

    def round_done(self, strategy: str, seed: int) -> None:
        pass

    def run_finished(self, strategy: str, seed: int) -> None:
        pass


def n_rounds(initial: int, budget: int, batch_size: int) -> int:
    return 1 + int(np.ceil(max(0, budget - initial) / batch_size))
