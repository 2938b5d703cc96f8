"""A run interrupted after k rounds and resumed gives exactly the uninterrupted run (same seed).

The resumed run does only seed 2 (``only_seeds``, as parallel benchmark workers do): a seed's runs depend on
its index alone, not on which seeds ran before it in the same process.
"""

from __future__ import annotations

from pathlib import Path

from labelsieve.report.build import read_run
from labelsieve.simulate.datasets import load_digits_dataset
from labelsieve.simulate.runner import Simulation, SimulationConfig
from labelsieve.simulate.store import RunStore


def test_interrupted_run_resumes_to_the_uninterrupted_result(digits_run, tmp_path: Path) -> None:
    reference_dir, _ = digits_run  # same protocol, 3 seeds, never interrupted
    config = SimulationConfig(strategies=("margin",), initial=20, batch_size=10, budget=80, seeds=3, learner="vector")
    store = RunStore(tmp_path / "resumed")
    Simulation(dataset=load_digits_dataset(), config=config, store=store).run(stop_after_rounds=2, only_seeds=[2])
    partial = read_run(store, "margin", 2)
    assert partial is not None and [r["n_labels"] for r in partial["rounds"]] == [20, 30]

    Simulation(dataset=load_digits_dataset(), config=config, store=store).run(only_seeds=[2])
    assert not store.has_run("margin", 0) and not store.has_run("random", 1)
    for strategy in ("margin", "random"):
        resumed, reference = read_run(store, strategy, 2), read_run(RunStore(reference_dir), strategy, 2)
        assert resumed is not None and reference is not None
        assert resumed["order_labels"] == reference["order_labels"]
        assert [r["accuracy"] for r in resumed["rounds"]] == [r["accuracy"] for r in reference["rounds"]]
        assert [r["n_labels"] for r in resumed["rounds"]] == list(range(20, 81, 10))
