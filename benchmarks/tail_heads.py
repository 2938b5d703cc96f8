"""Few-shot heads for the rare classes on a pretrained encoder's vectors (issue 28 item 5).

The protocol of ``benchmarks/auto_image_balancing.py --per-class 300 --encoder efficientnet_lite0 --no-finetune``
(long-tailed training split with head ``HEADS``, which class is rare permuted per seed, 75/25 stratified split,
balanced test split), but the encoder's vectors of each set are computed once (through the embedding store) and
cached in ``--cache`` as one ``.npy`` per set, so that every head below is a cheap fit on the same vectors.
Heads (all chosen inside the labelled set; the test split is only scored):

- ``auto τ1.5``: what ``balancing: auto`` gives ``auto_image``'s linear stage on encoder vectors today
  (``VectorLearner(semi_supervised=None, logit_tau=1.5)``);
- ``class_weight`` (= cRT: with the encoder frozen, re-training only the head class-balanced is exactly a
  class-weighted logistic regression);
- ``τ by CV``: post-hoc logit adjustment with τ picked by 3-fold cross-validated balanced accuracy on the labelled set;
- ``ncm``: nearest class mean on centred, L2-normalised vectors (SimpleShot's CL2N; no prior, so no head bias);
- ``blend``: the linear head's log-probabilities (τ 1.5) plus the cosine prototype logits, weighted 1:1
  (``PROTO_SCALE`` converts a cosine into a logit);
- ``feat-aug``: tail classes (below the median count) filled to the median with Gaussian draws around their own
  vectors, with the per-dimension spread of the other classes (a diagonal form of distribution calibration, Yang
  et al. 2021), then a plain linear head;
- ``balanced softmax``: softmax regression trained with the log prior added to its logits (Ren et al. 2020), served
  without it (``+τ0.5``: and adjusted post hoc by τ 0.5 more);
- ``ncm (standardised)``: the prototypes on the standardised vectors;
- ``sqrt + ...``: the same heads on Tukey's power transform ``sign(x)|x|^0.5`` of the vectors (β of Yang et al. 2021,
  not tuned here); ``sqrt + τ1.5`` is what ``balancing: auto`` does after this change
  (``linear_params.feature_power`` 0.5);
- ``C 0.1 τ1.5``: a ten times stronger penalty.

Paired gains are per seed against ``auto τ1.5`` (same split), with a 95 % t-interval.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/tail_heads.py --sets textures,animal,mnist5k,digits \
        --ratios 1,10,50 --seeds 5
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
from sklearn.metrics import balanced_accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.auto_image_balancing import HEADS, image_set, long_tail_positions, tail_size  # noqa: E402
from benchmarks.common import machine_line, t_interval  # noqa: E402

from labelsieve.learners.vector import VectorLearner  # noqa: E402

BASELINE = "auto τ1.5"
TAUS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
PROTO_SCALE = 20.0


def vectors(name: str, per_class: int, cache: Path, store: Path) -> tuple[np.ndarray, np.ndarray]:
    cache.mkdir(parents=True, exist_ok=True)
    images, labels = image_set(name, per_class)
    path = cache / f"{name}-{per_class}.npy"
    if not path.exists():
        from labelsieve.learners.embedding_cache import EMBEDDINGS
        from labelsieve.learners.image_vectors import encoder_vectors
        from labelsieve.registry import get_registry

        EMBEDDINGS.attach(store)
        encoder = get_registry("encoders").create("efficientnet_lite0", {})
        np.save(path, encoder_vectors(encoder, list(images)))
    return np.load(path), labels


def power(X: np.ndarray, beta: float = 0.5) -> np.ndarray:
    """Tukey's power transform ``sign(x)|x|^β`` (β 0.5: Yang et al. 2021), which makes skewed, sparse post-ReLU
    features closer to Gaussian per class."""
    return np.sign(X) * np.abs(X) ** beta


def linear(X: np.ndarray, y: np.ndarray, seed: int, **params: Any) -> VectorLearner:
    return VectorLearner(semi_supervised=None, random_state=seed, **params).fit(X, y.tolist())


def log_proba(model: VectorLearner, X: np.ndarray) -> np.ndarray:
    return np.log(np.clip(model.predict_proba(X), 1e-12, None))


def prototypes(X: np.ndarray, y: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    center = means.mean(axis=0)
    unit = means - center
    return center, unit / np.linalg.norm(unit, axis=1, keepdims=True)


def cosine(X: np.ndarray, center: np.ndarray, protos: np.ndarray) -> np.ndarray:
    z = X - center
    return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)) @ protos.T


def cv_tau(X: np.ndarray, y: np.ndarray, seed: int) -> float:
    folds = min(3, min(Counter(y.tolist()).values()))
    if folds < 2:
        return 1.5
    scores = np.zeros(len(TAUS))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        model = linear(X[train], y[train], seed)
        logits = log_proba(model, X[test])
        counts = Counter(y[train].tolist())
        prior = np.log(np.array([counts[c] for c in model.classes_], dtype=float) / len(train))
        for i, tau in enumerate(TAUS):
            predicted = np.asarray(model.classes_)[np.argmax(logits - tau * prior, axis=1)]
            scores[i] += balanced_accuracy_score(y[test], predicted)
    return float(TAUS[int(np.argmax(scores))])  # first of ties: the smallest τ


def balanced_softmax(X: np.ndarray, y: np.ndarray, tau: float = 1.0, C: float = 1.0) -> tuple[list[str], Any]:
    """Softmax regression trained with ``tau * log prior`` added to the logits (Ren et al. 2020), served without it;
    standardised features and sklearn's penalty (``C * sum CE + |W|^2 / 2``)."""
    from scipy.optimize import minimize

    classes = sorted(set(y.tolist()))
    mean, scale = X.mean(axis=0), np.where(X.std(axis=0) > 1e-6, X.std(axis=0), 1.0)
    Z = (X - mean) / scale
    index = np.searchsorted(classes, y)
    onehot = np.eye(len(classes))[index]
    offset = tau * np.log(onehot.mean(axis=0))
    d, k = Z.shape[1], len(classes)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = theta[:d * k].reshape(d, k), theta[d * k:]
        logits = Z @ W + b + offset
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        ce = -np.sum(np.log(np.clip(p[np.arange(len(y)), index], 1e-300, None)))
        g = p - onehot
        return C * ce + 0.5 * np.sum(W * W), np.concatenate([(C * Z.T @ g + W).ravel(), C * g.sum(axis=0)])

    theta = minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 2000}).x
    W, b = theta[:d * k].reshape(d, k), theta[d * k:]
    return classes, lambda T: (((T - mean) / scale) @ W + b)


def feature_augment(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    counts = Counter(y.tolist())
    target = int(np.median(list(counts.values())))
    rng = np.random.default_rng(seed)
    out_X, out_y = [X], [y]
    for c, n in counts.items():
        if n >= target:
            continue
        spread = np.sqrt(np.mean([X[y == o].var(axis=0) for o in counts if o != c and counts[o] > 1], axis=0))
        base = X[y == c][rng.integers(0, n, target - n)]
        out_X.append(base + rng.normal(size=base.shape) * spread * 0.5)
        out_y.append(np.full(target - n, c))
    return np.vstack(out_X), np.concatenate(out_y)


def heads(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, seed: int,
          pool: np.ndarray | None = None) -> dict[str, np.ndarray]:
    classes = sorted(set(y.tolist()))
    out: dict[str, np.ndarray] = {}
    if pool is not None:  # the unlabeled rest of the training split feeds the standardisation, as in a project
        for name, beta in (("auto τ1.5, pool stats", 1.0), ("sqrt + τ1.5, pool stats", 0.5)):
            model = VectorLearner(semi_supervised=None, random_state=seed, logit_tau=1.5, feature_power=beta)
            out[name] = np.asarray(model.fit(X, y.tolist(), unlabeled=pool).predict(X_test))
    auto = linear(X, y, seed, logit_tau=1.5)
    out["auto τ1.5"] = np.asarray(auto.predict(X_test))
    out["class_weight (cRT)"] = np.asarray(linear(X, y, seed, class_weight="balanced").predict(X_test))
    tau = cv_tau(X, y, seed)
    out["τ by CV"] = np.asarray(linear(X, y, seed, logit_tau=tau).predict(X_test))
    center, protos = prototypes(X, y, classes)
    proto_logits = PROTO_SCALE * cosine(X_test, center, protos)
    out["ncm"] = np.asarray(classes)[np.argmax(proto_logits, axis=1)]
    assert list(auto.classes_) == classes
    blend = log_proba(auto, X_test) + proto_logits - np.log(np.exp(proto_logits).sum(axis=1, keepdims=True))
    out["blend τ1.5 + ncm"] = np.asarray(classes)[np.argmax(blend, axis=1)]
    names, logits = balanced_softmax(X, y)
    out["balanced softmax"] = np.asarray(names)[np.argmax(logits(X_test), axis=1)]
    out["balanced softmax +τ0.5"] = np.asarray(names)[np.argmax(
        logits(X_test) - 0.5 * np.log(np.array([np.mean(y == c) for c in names])), axis=1)]
    mean, scale = X.mean(axis=0), np.where(X.std(axis=0) > 1e-6, X.std(axis=0), 1.0)
    center_s, protos_s = prototypes((X - mean) / scale, y, classes)
    standardised = cosine((X_test - mean) / scale, center_s, protos_s)
    out["ncm (standardised)"] = np.asarray(classes)[np.argmax(standardised, axis=1)]
    R, R_test = power(X), power(X_test)
    out["sqrt + τ1.5"] = np.asarray(linear(R, y, seed, logit_tau=1.5).predict(R_test))
    out["sqrt + τ by CV"] = np.asarray(linear(R, y, seed, logit_tau=cv_tau(R, y, seed)).predict(R_test))
    rooted = linear(R, y, seed, logit_tau=1.5)
    center_r, protos_r = prototypes(R, y, classes)
    proto_r = PROTO_SCALE * cosine(R_test, center_r, protos_r)
    blend_r = log_proba(rooted, R_test) + proto_r - np.log(np.exp(proto_r).sum(axis=1, keepdims=True))
    out["sqrt + blend ncm"] = np.asarray(classes)[np.argmax(blend_r, axis=1)]
    Ra, ra = feature_augment(R, y, seed)
    out["sqrt + feat-aug"] = np.asarray(linear(Ra, ra, seed).predict(R_test))
    out["sqrt + C 0.1 τ1.5"] = np.asarray(linear(R, y, seed, logit_tau=1.5, C=0.1).predict(R_test))
    for C in (0.1, 0.01):
        out[f"C {C} τ1.5"] = np.asarray(linear(X, y, seed, logit_tau=1.5, C=C).predict(X_test))
    Xa, ya = feature_augment(X, y, seed)
    out["feat-aug"] = np.asarray(linear(Xa, ya, seed).predict(X_test))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="textures,animal,mnist5k,digits")
    parser.add_argument("--ratios", default="10,50")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--pool", action="store_true", help="also the two pool-statistics rows (see heads)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "labelsieve-tail-heads"))
    parser.add_argument("--store", default=str(Path(tempfile.gettempdir()) / "labelsieve-bench-embeddings"))
    args = parser.parse_args()
    results: dict[tuple[str, float, str], list[tuple[float, float, float]]] = {}
    for name in args.sets.split(","):
        started = time.perf_counter()
        E, labels = vectors(name, args.per_class, Path(args.cache), Path(args.store))
        print(f"{name}: {E.shape} vectors in {time.perf_counter() - started:.0f} s", flush=True)
        for ratio in [float(r) for r in args.ratios.split(",")]:
            for seed in range(args.seeds):
                keep, test = long_tail_positions(labels, name, seed, ratio)
                y, truth = labels[keep], labels[test]
                counts = Counter(y.tolist())
                tail = sorted(counts, key=lambda c: counts[c])[:tail_size(len(counts))]
                train_split = np.setdiff1d(np.arange(len(labels)), np.concatenate([keep, test]))
                pool = E[train_split] if args.pool else None
                for head, predicted in heads(E[keep], y, E[test], seed, pool).items():
                    tail_recall = np.mean([np.mean(predicted[truth == c] == c) for c in tail])
                    row = (100 * balanced_accuracy_score(truth, predicted),
                           100 * f1_score(truth, predicted, average="macro"), 100 * float(tail_recall))
                    results.setdefault((name, ratio, head), []).append(row)
                    print(name, ratio, seed, head, " ".join(f"{v:.1f}" for v in row), flush=True)
    print("\n| set | IR | head | macro-F1 (95 % CI) | tail recall (95 % CI) | paired gain F1 | paired gain tail "
          "| seeds ≥92/≥85 |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for (name, ratio, head), rows in results.items():
        met = sum(r[1] >= 92 and r[2] >= 85 for r in rows)
        base = results[(name, ratio, BASELINE)]
        gains = [t_interval([r[i] - b[i] for r, b in zip(rows, base, strict=True)]) if head != BASELINE else "—"
                 for i in (1, 2)]
        print(f"| {name} | {ratio:g} | {head} | {t_interval([r[1] for r in rows])} | "
              f"{t_interval([r[2] for r in rows])} | {gains[0]} | {gains[1]} | {met}/{len(rows)} |")
    print(f"\n({args.seeds} seeds, per class {args.per_class}, heads {HEADS}) {machine_line()}")


if __name__ == "__main__":
    main()
