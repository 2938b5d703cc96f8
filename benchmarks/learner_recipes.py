"""Learner recipes that use the unlabeled pool, on several data sets (issue 15, item 1): the table that set
VectorLearner's defaults.

Protocol per data set and seed: labelsieve's split (80/20 stratified, ``make_split``), a stratified seed set of
10 labels, batches of 10 chosen by a fixed strategy (``margin``, ``random``) up to the budget. Every round fits
the recipe on the labelled items with ``unlabeled=`` the rest of the pool (what the service loop passes) and
ranks the pool with the registered strategy (``full_ranking`` on a ``PoolContext``, as the service does), in
one process without the service's database (the loop's wiring of the pool is tested in tests/). Held-out
accuracy after 10/20/50/100 labels, and labels until accuracy reaches 95% / 98% of the seed's full-data
accuracy (today's recipe, ``labelled``, fitted on the whole training split; ">B" = not within the budget B).

Data sets: digits (64 pixels), long-tailed digits (training split cut to an exponential tail, imbalance ratio
10, test split balanced, as benchmarks/imbalance.py), breast_cancer and wine (scikit-learn's tabular sets).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/learner_recipes.py --seeds 5 --out runs/recipes.json
    .venv/bin/python benchmarks/learner_recipes.py --summarise runs/recipes.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line  # noqa: E402

from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.simulate.splits import make_split, stratified_seed_set  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402

#: recipe name -> VectorLearner parameters (``labelled`` is the recipe before issue 15)
RECIPES: dict[str, dict[str, Any]] = {
    "labelled": {"pool_stats": False},
    "pool_stats": {"pool_stats": True},
    "pool_pca": {"pool_stats": True, "pca_components": 32},
    "self_training": {"pool_stats": True, "semi_supervised": "self_training", "pseudo_threshold": 0.9},
    "label_spreading": {"pool_stats": True, "semi_supervised": "label_spreading", "pseudo_threshold": 0.9},
    "self_training_t99": {"pool_stats": True, "semi_supervised": "self_training", "pseudo_threshold": 0.99},
    "label_spreading_t98": {"pool_stats": True, "semi_supervised": "label_spreading", "pseudo_threshold": 0.98},
    "semi_auto": {"pool_stats": True, "semi_supervised": "auto", "pseudo_threshold": 0.9},
}
CHECKPOINTS = (10, 20, 50, 100)
BUDGETS = {"digits": 250, "lt_digits": 200, "breast_cancer": 100, "wine": 60}
INITIAL, BATCH = 10, 10


def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    loader = {"digits": load_digits, "lt_digits": load_digits, "breast_cancer": load_breast_cancer,
              "wine": load_wine}[name]
    data = loader()
    return data.data.astype(np.float32), data.target.astype(str)


def long_tail(train: np.ndarray, y: np.ndarray, seed: int, ratio: float = 10.0, head: int = 120) -> np.ndarray:
    rng = np.random.default_rng([seed, 15])
    keep: list[int] = []
    for rank, digit in enumerate(rng.permutation(sorted(set(y.tolist())))):
        members = train[y[train] == digit]
        n = max(1, int(round(head * ratio ** (-rank / 9))))
        keep.extend(rng.choice(members, min(n, len(members)), replace=False).tolist())
    return np.sort(np.array(keep))


def accuracy(learner: Any, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.array(learner.predict(list(X))) == y))


def run_curve(name: str, recipe: str, strategy_name: str, seed: int) -> dict[str, Any]:
    registries = get_registries()
    X, y = dataset(name)
    split = make_split(y, base_seed=0, seed=seed, test_fraction=0.2, initial=INITIAL)
    train, test = split.train, split.test
    labeled = [int(train[i]) for i in split.initial]
    if name == "lt_digits":  # the pool is cut to a long tail; a fresh seed set inside it
        train = long_tail(train, y, seed)
        labeled = [int(train[i]) for i in stratified_seed_set(y[train], INITIAL, np.random.default_rng(seed))]
    params = {**RECIPES[recipe], "random_state": seed}
    full = registries.learners.create("vector", {**RECIPES["labelled"], "random_state": seed})
    full.fit(list(X[train]), list(y[train]))
    full_accuracy = accuracy(full, X[test], y[test])
    strategy = registries.strategies.create(strategy_name, {})
    rng = np.random.default_rng([seed, 1515])
    curve: list[tuple[int, float]] = []
    budget = min(BUDGETS[name], len(train))
    started = time.perf_counter()
    while True:
        pool = np.setdiff1d(train, labeled)
        learner = registries.learners.create("vector", params)
        learner.fit(list(X[labeled]), list(y[labeled]), unlabeled=list(X[pool]))
        curve.append((len(labeled), accuracy(learner, X[test], y[test])))
        n = min(BATCH, budget - len(labeled), len(pool))
        if n <= 0:
            break
        classes = tuple(learner.classes_)
        index = {c: i for i, c in enumerate(classes)}
        ctx = PoolContext(pool=list(X[pool]), learner=learner, rng=rng, labeled=list(X[labeled]),
                          labeled_y=np.array([index[c] for c in y[labeled]]), classes=classes)
        labeled += [int(pool[i]) for i in strategy.select(ctx, n)]
    return {"dataset": name, "recipe": recipe, "strategy": strategy_name, "seed": seed, "full": full_accuracy,
            "curve": curve, "budget": budget, "seconds": time.perf_counter() - started}


def labels_to(curve: list[list[float]], target: float) -> float:
    for n, acc in curve:
        if acc >= target:
            return float(n)
    return float("inf")


def aulc(curve: list[list[float]]) -> float:
    """Mean accuracy over every round of the run (10 labels to the budget): the area under the learning curve."""
    return float(np.mean([acc for _, acc in curve]))


def paired_gain(runs: list[dict[str, Any]], reference: list[dict[str, Any]]) -> tuple[float, float, float]:
    """Mean paired (same seed) AULC gain over ``reference`` in points, with a 90% bootstrap interval."""
    base = {r["seed"]: aulc(r["curve"]) for r in reference}
    gains = np.array([100 * (aulc(r["curve"]) - base[r["seed"]]) for r in runs if r["seed"] in base])
    rng = np.random.default_rng(0)
    means = rng.choice(gains, size=(2000, len(gains))).mean(axis=1)
    return float(gains.mean()), float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


def gain_table(results: list[dict[str, Any]]) -> None:
    cases = list(dict.fromkeys((r["dataset"], r["strategy"]) for r in results))
    print("\n### Area under the learning curve: gain over `labelled` (points, mean over seeds [90% bootstrap CI])\n")
    print("| recipe | " + " | ".join(f"{d} {s}" for d, s in cases) + " | wins everywhere |")
    print("|---|" + "---:|" * (len(cases) + 1))
    for recipe in RECIPES:
        if recipe == "labelled":
            continue
        cells, per_set, significant_loss = [], {}, False
        for name, strategy in cases:
            rows = [r for r in results if r["dataset"] == name and r["strategy"] == strategy]
            runs = [r for r in rows if r["recipe"] == recipe]
            reference = [r for r in rows if r["recipe"] == "labelled"]
            if not runs or not reference:
                cells.append("-")
                per_set.setdefault(name, []).append(float("nan"))
                continue
            mean, low, high = paired_gain(runs, reference)
            per_set.setdefault(name, []).append(mean)
            significant_loss = significant_loss or high < 0
            cells.append(f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]")
        every = not significant_loss and all(np.mean(gains) > 0 for gains in per_set.values())
        print(f"| {recipe} | " + " | ".join(cells) + f" | {'yes' if every else 'no'} |")
    print("\n(wins everywhere: on every set the mean gain over its strategies is > 0, and no interval lies "
          "entirely below 0)")


def summarise(results: list[dict[str, Any]]) -> None:
    gain_table(results)
    names = list(dict.fromkeys(r["dataset"] for r in results))
    for name in names:
        rows = [r for r in results if r["dataset"] == name]
        budget = rows[0]["budget"]
        seeds = sorted({r["seed"] for r in rows})
        print(f"\n### {name} ({len(seeds)} seeds, budget {budget}, full-data accuracy "
              f"{100 * np.mean([r['full'] for r in rows]):.1f}%)\n")
        print("| strategy | recipe | " + " | ".join(f"acc@{c}" for c in CHECKPOINTS)
              + " | labels to 95% | labels to 98% | s/run |")
        print("|---|---|" + "---:|" * (len(CHECKPOINTS) + 3))
        for strategy in dict.fromkeys(r["strategy"] for r in rows):
            for recipe in RECIPES:
                runs = [r for r in rows if r["strategy"] == strategy and r["recipe"] == recipe]
                if not runs:
                    continue
                cells = []
                for c in CHECKPOINTS:
                    values = [{int(n): a for n, a in r["curve"]}.get(c) for r in runs]
                    values = [v for v in values if v is not None]
                    cells.append(f"{100 * np.mean(values):.1f}" if values else "-")
                for share in (0.95, 0.98):
                    needed = [labels_to(r["curve"], share * r["full"]) for r in runs]
                    med = float(np.median(needed))
                    cells.append(f">{budget}" if not np.isfinite(med) else f"{med:.0f}")
                cells.append(f"{np.median([r['seconds'] for r in runs]):.1f}")
                print(f"| {strategy} | {recipe} | " + " | ".join(cells) + " |")
    print(f"\n(accuracy in %, mean over seeds; labels: median over seeds) {machine_line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default=",".join(BUDGETS))
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--strategies", default="margin,random")
    parser.add_argument("--out", type=Path, default=Path("runs/learner_recipes.json"))
    parser.add_argument("--summarise", type=Path, nargs="*")
    args = parser.parse_args()
    if args.summarise:
        summarise([r for path in args.summarise for r in json.loads(path.read_text())])
        return
    results: list[dict[str, Any]] = json.loads(args.out.read_text()) if args.out.exists() else []
    done = {(r["dataset"], r["recipe"], r["strategy"], r["seed"]) for r in results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets.split(","):
        for seed in range(args.seeds):
            for strategy in args.strategies.split(","):
                for recipe in args.recipes.split(","):
                    if (name, recipe, strategy, seed) in done:
                        continue
                    results.append(run_curve(name, recipe, strategy, seed))
                    args.out.write_text(json.dumps(results))
                    print(name, recipe, strategy, seed, f"{results[-1]['seconds']:.1f}s", flush=True)
    summarise(results)


if __name__ == "__main__":
    main()
