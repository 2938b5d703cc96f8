"""Every round of the service loop hands the learner the unlabeled pool (not only text learners): a learner that
records what it was given, run through the simulation (each round is ``ActiveLearningLoop.retrain``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.datasets import load_wine

from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import Registries
from labelsieve.service.pool_inputs import pool_for_fit
from labelsieve.simulate.datasets import Dataset
from labelsieve.simulate.runner import Simulation, SimulationConfig
from labelsieve.simulate.store import RunStore


class RecordingLearner(VectorLearner):
    """A vector learner that notes the item ids (first feature) of its labelled and unlabeled inputs."""

    fits: ClassVar[list[tuple[set[int], set[int] | None]]] = []

    def fit(self, X: Sequence[Any], y: Sequence[str], *, sample_weight: np.ndarray | None = None,
            unlabeled: Sequence[Any] | None = None) -> Self:
        ids = {int(round(float(x[0]))) for x in X}
        pool = None if unlabeled is None else {int(round(float(x[0]))) for x in unlabeled}
        type(self).fits.append((ids, pool))
        return super().fit(X, y, sample_weight=sample_weight, unlabeled=unlabeled)


def test_every_round_of_the_loop_fits_with_the_unlabeled_pool(tmp_path: Path) -> None:
    wine = load_wine()
    items = np.column_stack([np.arange(len(wine.target)), wine.data]).astype(np.float32)  # column 0: item id
    dataset = Dataset(name="wine-ids", kind="vector", items=list(items), labels=wine.target.astype(str))
    registries = Registries()
    registries.learners.register("recording", RecordingLearner)
    RecordingLearner.fits.clear()
    config = SimulationConfig(strategies=("margin",), initial=6, batch_size=10, budget=36, seeds=1,
                              learner="recording")
    Simulation(dataset=dataset, config=config, store=RunStore(tmp_path / "sim"), registries=registries).run()

    rounds = [(ids, pool) for ids, pool in RecordingLearner.fits if pool is not None]
    full_data = [ids for ids, pool in RecordingLearner.fits if pool is None]
    assert len(full_data) == 1  # the full-data reference: the whole training split is labelled
    train = full_data[0]
    # margin and random, 4 rounds each (6, 16, 26, 36 labels)
    assert [len(ids) for ids, _ in rounds] == [6, 16, 26, 36] * 2
    for ids, pool in rounds:
        assert pool, "the learner got no pool"
        assert not ids & pool  # the pool is the unlabeled tasks only...
        assert ids | pool == train  # ...all of them (under the cap)


def test_a_large_pool_is_a_seeded_sample_of_at_most_the_limit() -> None:
    inputs = [np.array([float(i)]) for i in range(1000)]
    first = pool_for_fit(inputs, np.random.default_rng(7), limit=100)
    again = pool_for_fit(inputs, np.random.default_rng(7), limit=100)
    assert len(first) == 100 and len({float(x[0]) for x in first}) == 100
    assert [float(x[0]) for x in first] == [float(x[0]) for x in again]
    assert len(pool_for_fit(inputs, np.random.default_rng(7), limit=5000)) == 1000
