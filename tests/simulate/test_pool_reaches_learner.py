"""Every round of the service loop hands the learner the unlabeled pool (not only text learners): a learner that
records what it was given, run through the simulation (each round is ``ActiveLearningLoop.retrain``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.datasets import load_digits, load_wine

from labelsieve.learners.vector import VectorLearner
from labelsieve.registry import Registries
from labelsieve.report.build import read_run
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


def test_auto_image_trains_saves_and_ranks_through_the_loop_and_beats_chance_at_20_labels(tmp_path: Path) -> None:
    """The default image learner in the service loop (PNG tasks, artifact store, ranking): useful at 20 labels."""
    digits = load_digits()
    keep = np.random.default_rng(0).permutation(len(digits.target))[:400]
    images = (digits.images[keep] / 16.0 * 255).round().astype(np.uint8)
    dataset = Dataset(name="digits-400", kind="image", items=list(images), labels=digits.target[keep].astype(str))
    config = SimulationConfig(strategies=("margin",), initial=10, batch_size=10, budget=20, seeds=1,
                              learner="auto_image",  # the full-data reference (320 labels) skips the CNN's folds
                              learner_params={"min_cnn_labels": 1000})
    store = RunStore(tmp_path / "sim")
    Simulation(dataset=dataset, config=config, store=store).run()
    run = read_run(store, "margin", 0)
    assert run is not None and [r["n_labels"] for r in run["rounds"]] == [10, 20]
    assert run["rounds"][-1]["accuracy"] > 0.4  # chance is 0.1; the CNN alone: ~0.27 at 20 labels
