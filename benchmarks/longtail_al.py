"""Balancing during active learning on long-tailed pools (issue 16, item 3).

Question: a user with a 100:1 pool: which setting finds and learns the rare class with the fewest labels?

Protocol, per seed: ``load_digits`` split 75/25 (stratified); the 25% is the fixed, balanced test set
(``labelsieve simulate --test-dataset``); the 75% is cut to an exponential long tail (head class 120
images, rarest 120/IR; which digit is rare is permuted per seed). Each setting runs through
``labelsieve.simulate`` (the service's loop: retrain, rank, oracle labels through the webhook path):
a *random* seed set of 20 labels (so the rare class has to be found), batches of 10, a budget of 200.
Settings: strategy (random, margin, balance_aware(margin), class_balanced(margin)) x balancing (off,
auto). Measured on the balanced test set: labels until the rarest class gets its first label ("found"),
its recall at 60/100/200 labels, and labels until macro-F1 reaches a target (median over seeds;
">200" = not within the budget).

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/longtail_al.py --seeds 5 --out runs/longtail``
(``--learner image`` for the small CNN; ``--summary FILE`` reprints the table from the JSON lines).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine_line  # noqa: E402
from benchmarks.imbalance import long_tail_split  # noqa: E402

from labelsieve.report.build import read_run  # noqa: E402
from labelsieve.simulate.datasets import Dataset  # noqa: E402
from labelsieve.simulate.runner import Simulation, SimulationConfig  # noqa: E402
from labelsieve.simulate.store import RunStore  # noqa: E402

STRATEGIES = ("margin", "balance_aware", "class_balanced")
BALANCING = (None, "auto")
CHECKPOINTS = (60, 100, 200)
TARGETS = (0.80, 0.85, 0.90)
IMAGE_PARAMS = {"image_size": 8, "epochs": 30, "augment": None, "batch_size": 64}


def long_tail(seed: int, ratio: float) -> tuple[Dataset, Dataset, str]:
    """(long-tailed pool, balanced test set, the rarest class): ``benchmarks/imbalance.py``'s split."""
    X, y, X_test, y_test = long_tail_split(seed, ratio)
    counts = Counter(y)
    pool = Dataset(name=f"lt{ratio:g}-seed{seed}", kind="image", items=X, labels=np.array(y))
    held = Dataset(name=f"balanced-test-seed{seed}", kind="image", items=X_test, labels=np.array(y_test))
    return pool, held, min(counts, key=lambda c: counts[c])


def run_setting(root: Path, ratio: float, seed: int, balancing: str | None, learner: str,
                budget: int) -> dict[str, Any]:
    pool, test, rare = long_tail(seed, ratio)
    out = root / f"{learner}-ir{ratio:g}-seed{seed}-{balancing or 'off'}"
    params = dict(IMAGE_PARAMS) if learner == "image" else {}
    config = SimulationConfig(strategies=STRATEGIES, initial=20, batch_size=10, budget=budget, seeds=1,
                              learner=learner, learner_params=params, balancing=balancing, base_seed=seed,
                              initial_sampling="random")
    started = time.perf_counter()
    Simulation(dataset=pool, config=config, store=RunStore(out), test_dataset=test).run()
    seconds = time.perf_counter() - started
    rows: dict[str, Any] = {}
    for strategy in (*STRATEGIES, "random"):
        run = read_run(RunStore(out), strategy, 0)
        assert run is not None
        order = run["order_labels"]
        found = next((k + 1 for k, label in enumerate(order) if label == rare), None)
        curve = {r["n_labels"]: (r["per_class_recall"][rare], r["macro_f1"]) for r in run["rounds"]}
        rows[strategy] = {"found": found, "curve": {str(n): v for n, v in curve.items()},
                          "rare_labels": order.count(rare)}
    return {"ratio": ratio, "seed": seed, "balancing": balancing, "learner": learner, "rare": rare,
            "pool": len(pool), "rare_in_pool": int((pool.labels == rare).sum()), "seconds": seconds, "rows": rows}


def _median(values: list[float | None], censor: float) -> str:
    if not values:
        return "-"
    median = float(np.median([v if v is not None else censor for v in values]))
    return f">{censor - 1:.0f}" if median >= censor else f"{median:.0f}"


def summarise(records: list[dict[str, Any]], budget: int) -> None:
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["learner"], record["ratio"]), []).append(record)
    for (learner, ratio), rows in sorted(groups.items()):
        seeds = sorted({r["seed"] for r in rows})
        rare = np.mean([r["rare_in_pool"] for r in rows])
        print(f"\n{learner} learner, IR {ratio:g} (pool {rows[0]['pool']}, rarest class {rare:.1f} items), "
              f"seeds {seeds}; balanced test set; medians over seeds")
        head = " | ".join(f"rare recall @{n}" for n in CHECKPOINTS)
        targets = " | ".join(f"labels to mF1 {t:.2f}" for t in TARGETS)
        print(f"| strategy | balancing | labels to find rare | rare labelled @{budget} | {head} | mF1 @{budget} | "
              f"{targets} |")
        print("|" + "---|" * (5 + len(CHECKPOINTS) + len(TARGETS)))
        for balancing in BALANCING:
            chosen = [r for r in rows if r["balancing"] == balancing]
            for strategy in ("random", *STRATEGIES):
                runs = [r["rows"][strategy] for r in chosen]
                if not runs:
                    continue
                found = _median([r["found"] for r in runs], budget + 1)
                recall = " | ".join(
                    f"{np.mean([r['curve'][str(n)][0] for r in runs if str(n) in r['curve']]):.2f}"
                    for n in CHECKPOINTS)
                final = np.mean([r["curve"][str(budget)][1] for r in runs if str(budget) in r["curve"]])
                needed = []
                for target in TARGETS:
                    per_seed = [next((int(n) for n, (_, f1) in sorted(r["curve"].items(), key=lambda kv: int(kv[0]))
                                      if f1 >= target), None) for r in runs]
                    needed.append(_median(per_seed, budget + 1))
                labelled = np.mean([r["rare_labels"] for r in runs])
                print(f"| {strategy} | {balancing or 'off'} | {found} | {labelled:.1f} | {recall} | {final:.3f} | "
                      f"{' | '.join(needed)} |")
        print(f"cost: {np.mean([r['seconds'] for r in rows]):.0f} s per (seed, balancing) folder of 4 strategies")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ratios", type=float, nargs="+", default=[10.0, 50.0])
    parser.add_argument("--learner", default="vector", choices=["vector", "image"])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--out", default="runs/longtail", help="simulation folders and results.jsonl go here")
    parser.add_argument("--summary", action="store_true", help="only reprint the table from results.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(args.out)
    results = root / "results.jsonl"
    if not args.summary:
        root.mkdir(parents=True, exist_ok=True)
        done = {(r["learner"], r["ratio"], r["seed"], r["balancing"]) for r in _read(results)}
        for ratio in args.ratios:
            for seed in range(args.seeds):
                for balancing in BALANCING:
                    if (args.learner, ratio, seed, balancing) in done:
                        continue
                    record = run_setting(root, ratio, seed, balancing, args.learner, args.budget)
                    with results.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")
                    print(f"{args.learner} IR {ratio:g} seed {seed} balancing {balancing}: "
                          f"{record['seconds']:.0f} s", flush=True)
    print(machine_line())
    summarise(_read(results), args.budget)


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
