"""Data-quality benchmark: labelsieve's label-issue candidates and pruning vs plain cleanlab.

For each data set (digits with the vector learner; a text set with the TF-IDF learner), noise setting and seed:
70% of the items are the labelled set (labels corrupted), 30% a clean test set.

- detection: precision / recall of the flagged items against the known flips and AUROC of the issue score, for
  labelsieve (``labelsieve.quality.assess``: the project's own learner cross-fitted, cleanlab on top) and for plain
  cleanlab with a 5-fold cross-validated scikit-learn LogisticRegression on the same features;
- clean-test accuracy of the learner trained on (a) all labels, (b) minus flagged, (c) minus as many random items,
  (d) minus as many lowest-value (KNN-Shapley) items, (e) minus the scorecard's ``prune`` items (what the
  ``prune: "flagged"`` setting does);
- time of one scorecard (a round's background pass) at 1k and 10k labelled items.

No real labelled text set ships with an installed package here (sklearn's 20 newsgroups downloads; no NLTK data),
so the text set is the template set of the e2e tests (tests/e2e/helpers.py), which is easy. Noise:
``symN``: N% of items moved to a uniformly chosen other class; ``asymN``: N% of the items of each class moved to
one confusable class (digits 1→7, 7→1, 3→8, 8→3, 4→9, 9→4, 5→6, 6→5, 0→6, 2→7; text sports→weather→food→sports).

    .venv/bin/python benchmarks/data_quality.py --seeds 5 --timing-sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import median, print_table  # noqa: E402
from tests.e2e.helpers import text_dataset  # noqa: E402

from labelsieve.learners.text import TextLearner  # noqa: E402
from labelsieve.learners.vector import VectorLearner  # noqa: E402
from labelsieve.quality.assess import assess  # noqa: E402
from labelsieve.quality.experiment import detection, pruning_experiment  # noqa: E402

DIGIT_PAIRS = {0: 6, 1: 7, 2: 7, 3: 8, 4: 9, 5: 6, 6: 5, 7: 1, 8: 3, 9: 4}
TEXT_PAIRS = {"sports": "weather", "weather": "food", "food": "sports"}
NOISES = ("sym0", "sym10", "sym20", "asym20")


def load(name: str) -> tuple[list, np.ndarray, str]:
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return list(X.astype(np.float32)), np.array([str(v) for v in y]), "vector"
    items = text_dataset(1800, seed=7)
    return [t for t, _ in items], np.array([label for _, label in items]), "text"


def features(items: list, kind: str, train: np.ndarray) -> np.ndarray:
    if kind == "vector":
        X = np.asarray(items, dtype=np.float64)
        return StandardScaler().fit(X[train]).transform(X[train])
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform([items[i] for i in train])


def plain_cleanlab(X, given: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    classes = sorted(set(given))
    labels = np.array([classes.index(c) for c in given])
    proba = cross_val_predict(LogisticRegression(max_iter=1000), X, labels, method="predict_proba",
                              cv=StratifiedKFold(5, shuffle=True, random_state=seed))
    flagged = find_label_issues(labels, proba, n_jobs=1)  # as labelsieve: no fork of a threaded process
    return flagged, 1.0 - get_label_quality_scores(labels, proba)


def one_run(name: str, noise: str, seed: int) -> dict:
    items, y, kind = load(name)
    make = VectorLearner if kind == "vector" else TextLearner
    pairs = ({str(a): str(b) for a, b in DIGIT_PAIRS.items()} if name == "digits" else TEXT_PAIRS)
    if noise.startswith("sym"):
        pairs = None
    started = time.perf_counter()
    report, _ = pruning_experiment(items=items, labels=y, make_learner=make, noise=noise, seed=seed, pairs=pairs)
    ours_seconds = time.perf_counter() - started
    train, given, truth = report.pop("train"), report.pop("given"), report.pop("truth")
    started = time.perf_counter()
    base_flagged, base_score = plain_cleanlab(features(items, kind, train), given, seed)
    return {"dataset": name, **report, "cleanlab_lr": detection(base_flagged, base_score, truth),
            "seconds": {"ours_all_steps": ours_seconds, "cleanlab_lr": time.perf_counter() - started}}


def timing(kind: str, n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    if kind == "vector":
        X, y = load_digits(return_X_y=True)
        pick = rng.choice(len(y), n, replace=True)
        items = list((X[pick] + rng.normal(0, 0.5, size=(n, X.shape[1]))).astype(np.float32))
        labels = [str(v) for v in y[pick]]
        make = VectorLearner
    else:
        data = text_dataset(n, seed=seed)
        items, labels, make = [t for t, _ in data], [label for _, label in data], TextLearner
    learner = make().fit(items, labels)
    started = time.perf_counter()
    result = assess(inputs=items, labels=labels, task_ids=list(range(n)), annotation_ids=list(range(n)),
                    learner=learner, make_learner=make)
    return {"kind": kind, "n": n, "seconds": time.perf_counter() - started, "parts": result.summary["seconds"]}


def summarise(runs: list[dict]) -> None:
    rows = []
    for name in sorted({r["dataset"] for r in runs}):
        for noise in NOISES:
            group = [r for r in runs if r["dataset"] == name and r["noise"] == noise]
            if not group:
                continue

            def m(path: str, group=group) -> float:
                a, b = path.split(".")
                return median([r[a][b] for r in group])

            rows.append([name, noise, str(len(group)), str(int(median([r["flips"] for r in group]))),
                         f"{m('ours.flagged'):.0f}", f"{m('ours.precision'):.3f}", f"{m('ours.recall'):.3f}",
                         f"{m('ours.auroc'):.3f}", f"{m('cleanlab_lr.flagged'):.0f}",
                         f"{m('cleanlab_lr.precision'):.3f}", f"{m('cleanlab_lr.recall'):.3f}",
                         f"{m('cleanlab_lr.auroc'):.3f}", f"{median([r['pruned'] for r in group]):.0f}",
                         f"{median([r['pruned_true'] for r in group]):.0f}"])
    print_table("detection (medians over seeds)", ["data", "noise", "seeds", "flips", "ours flagged", "ours P",
                "ours R", "ours AUROC", "cl-LR flagged", "cl-LR P", "cl-LR R", "cl-LR AUROC", "prune", "prune=flip"],
                rows)
    acc_rows = []
    for name in sorted({r["dataset"] for r in runs}):
        for noise in NOISES:
            group = [r for r in runs if r["dataset"] == name and r["noise"] == noise]
            if group:
                acc_rows.append([name, noise] + [f"{median([r['acc'][k] for r in group]):.4f}" for k in
                                 ("all", "minus_flagged", "minus_random", "minus_lowest_value", "minus_pruned")])
    print_table("clean-test accuracy (medians)", ["data", "noise", "(a) all", "(b) -flagged", "(c) -random",
                "(d) -lowest value", "(e) -prune"], acc_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=["digits", "text"])
    parser.add_argument("--noises", nargs="+", default=list(NOISES))
    parser.add_argument("--timing-sizes", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--timing-kinds", nargs="*", default=["vector", "text"])
    parser.add_argument("--out", type=Path, default=Path("runs/data_quality.json"))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}")
    runs = []
    for name in args.datasets:
        for noise in args.noises:
            for seed in range(args.seeds):
                runs.append(one_run(name, noise, seed))
                r = runs[-1]
                print(json.dumps({k: r[k] for k in ("dataset", "noise", "seed", "ours", "cleanlab_lr", "pruned",
                                                    "pruned_true", "acc")}), flush=True)
    summarise(runs)
    times = [timing(kind, n) for n in args.timing_sizes for kind in args.timing_kinds]
    print_table("time of one scorecard (background pass)", ["learner", "labelled", "seconds", "parts"],
                [[t["kind"], str(t["n"]), f"{t['seconds']:.1f}", json.dumps(t["parts"])] for t in times])
    print(f"load average at end: {os.getloadavg()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs, "timing": times}, indent=1))


if __name__ == "__main__":
    main()
