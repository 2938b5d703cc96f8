"""Multi-label active learning side by side: labelsieve's strategies, small-text's and modAL's multi-label
strategies, and random, on the splits, features and learner of benchmarks/multilabel.py.

Every method picks from the same pool with the same fitted learner (``MultiLabelLearner(base="vector")``,
one-vs-rest logistic regressions with per-label thresholds); only the choice of the next batch differs. The peers
are called through their own public functions on an adapter that gives them what they read (``predict_proba``,
thresholded ``predict``):

- small-text 1.4.1: ``CategoryVectorInconsistencyAndRanking`` (CVIRS, Reyes et al. 2018), its one multi-label
  strategy (``small_text.query_strategies.multi_label``);
- modAL 0.4.2.1 (``modAL.multilabel``): ``max_loss`` and ``mean_max_loss`` (Li et al. 2004), ``min_confidence``,
  ``avg_confidence``, ``max_score``, ``avg_score`` (Esuli and Sebastiani 2009). ``SVM_binary_minimum`` is left out:
  it reads the SVMs' ``decision_function`` inside a ``OneVsRestClassifier``, which a probabilistic learner has not.

The peers are benchmark-only dependencies, never labelsieve's: ``make bench-venv`` puts them in ``.venv-bench``, an
overlay of ``.venv`` (its torch and the rest reused, nothing downloaded but the two peers and ``dill``).

    OMP_NUM_THREADS=1 nice -n 10 .venv-bench/bin/python benchmarks/multilabel_peers.py --seeds 5 --n 1500 \\
        --budget 200 --batch 20 --out benchmarks/results/multilabel_peers.json
    .venv/bin/python benchmarks/multilabel_table.py benchmarks/results/multilabel_peers.json
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
from multilabel import LABELS, embed, fit_score, load_general_inquirer, make_split  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402

from labelsieve.learners.multilabel import MultiLabelLearner  # noqa: E402
from labelsieve.registry import get_registry  # noqa: E402
from labelsieve.strategies.base import PoolContext  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: chooser(learner, pool X, labelled X, labelled indicator (columns in LABELS order), n, rng) -> pool indices
Chooser = Callable[[MultiLabelLearner, np.ndarray, np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]


class PeerClassifier:
    """What the peers read of a classifier, over labelsieve's fitted learner, columns in ``LABELS`` order."""

    def __init__(self, learner: MultiLabelLearner) -> None:
        self.learner = learner
        self.classes_ = np.arange(len(LABELS))

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = self.learner.predict_proba(list(np.asarray(X)))
        out = np.zeros((proba.shape[0], len(LABELS)))
        for j, label in enumerate(LABELS):
            if label in self.learner.classes_:
                out[:, j] = proba[:, self.learner.classes_.index(label)]
        return out

    def predict(self, X: Any) -> np.ndarray:
        thresholds = np.array([self.learner.thresholds_[self.learner.classes_.index(label)]
                               if label in self.learner.classes_ else 1.0 for label in LABELS])
        return (self.predict_proba(X) >= thresholds).astype(np.int64)


def labelsieve_chooser(name: str, params: dict[str, Any]) -> Chooser:
    strategy = get_registry("strategies").create(name, params)

    def choose(learner: MultiLabelLearner, pool: np.ndarray, labeled: np.ndarray, Y: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        ctx = PoolContext(pool=list(pool), learner=learner, rng=rng, labeled=list(labeled),
                          classes=tuple(learner.classes_), task_type="multi_label", thresholds=learner.thresholds_,
                          labeled_targets=np.stack([Y[:, LABELS.index(c)] for c in learner.classes_], axis=1))
        return np.asarray(strategy.select(ctx, n))

    return choose


def small_text_cvirs(learner: MultiLabelLearner, pool: np.ndarray, labeled: np.ndarray, Y: np.ndarray, n: int,
                     rng: np.random.Generator) -> np.ndarray:
    from small_text.query_strategies.multi_label import CategoryVectorInconsistencyAndRanking

    strategy = CategoryVectorInconsistencyAndRanking(pbar=None)
    picked = strategy.query(PeerClassifier(learner), pool, np.arange(len(pool)), np.arange(len(labeled)),
                            csr_matrix(Y), n=n)
    return np.asarray(picked)


def modal_chooser(function_name: str) -> Chooser:
    def choose(learner: MultiLabelLearner, pool: np.ndarray, labeled: np.ndarray, Y: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
        import modAL.multilabel

        picked = getattr(modAL.multilabel, function_name)(PeerClassifier(learner), pool, n_instances=n)
        return np.asarray(picked[0] if isinstance(picked, tuple) else picked)

    return choose


METHODS: dict[str, Chooser] = {
    "random": labelsieve_chooser("random", {}),
    "labelsieve mean": labelsieve_chooser("multilabel_uncertainty", {"aggregation": "mean"}),
    "labelsieve mmc": labelsieve_chooser("mmc", {}),
    "labelsieve lci": labelsieve_chooser("lci", {}),
    "small-text CVIRS": small_text_cvirs,
    **{f"modAL {name}": modal_chooser(name) for name in
       ("max_loss", "mean_max_loss", "min_confidence", "avg_confidence", "max_score", "avg_score")},
}


def run_method(name: str, X: np.ndarray, Y: np.ndarray, split: dict[str, np.ndarray], args: argparse.Namespace,
               seed: int) -> dict[str, Any]:
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
        chosen = METHODS[name](learner, X[pool_all[rest]], X[idx], Y[idx], min(args.batch, args.budget - len(labeled)),
                               np.random.default_rng([seed, len(labeled)]))
        select_seconds += time.perf_counter() - started
        if len(np.unique(chosen)) != len(chosen):
            raise RuntimeError(f"{name} picked a task twice: {chosen}")
        labeled.extend(int(r) for r in rest[chosen])
    return {"curve": curve, "units": units, "select_seconds": select_seconds, "picks": labeled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--base-seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "multilabel_peers.json")
    args = parser.parse_args()
    texts, Y = load_general_inquirer()
    X = embed(texts, Path(tempfile.gettempdir()) / f"labelsieve-gi-{len(texts)}.npy").astype(np.float64)
    splits = [make_split(len(texts), args, seed) for seed in range(args.seeds)]
    results: dict[str, list[dict[str, Any]]] = {}
    for name in args.methods.split(","):
        results[name] = []
        for seed, split in enumerate(splits):
            started = time.perf_counter()
            results[name].append(run_method(name, X, Y, split, args, seed))
            print(f"{name} seed {seed}: final micro-F1 {results[name][-1]['curve'][-1]['micro_f1']:.3f} "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)
    full = [fit_score(X, Y, split["train"], split["test"], seed)[1] for seed, split in enumerate(splits)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                                    "n_items": len(texts), "labels": LABELS, "full": full, "results": results}))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
