"""The peers' side of benchmarks/label_efficiency.py: runs in ``.venv-bench`` (scikit-activeml, small-text, modAL).

It reads the very splits labelsieve uses from an ``.npz`` file (features, labels, per-seed train/test indices and
seed set) and runs each peer library's query strategies in the peers' own recipe: ``StandardScaler`` +
``LogisticRegression(C=1, max_iter=2000)`` on the features (pixels, numeric columns, or for text the sentence
embeddings of the same local model labelsieve's embedding learner reads). The harness trains and scores; the
library only picks each batch. Its full-data score (same recipe on the whole pool) is stored per seed too.
Imports nothing from labelsieve: the peers' environment may hold another labelsieve version.

    .venv-bench/bin/python benchmarks/peer_runs.py splits.npz peers.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

#: (library, strategy): each library's uncertainty strategies and scikit-activeml's hybrids; its best is picked after
PEERS = [("scikit-activeml", "margin"), ("scikit-activeml", "badge"),
         ("modAL", "margin"), ("modAL", "entropy"), ("small-text", "breaking_ties"),
         ("small-text", "least_confidence")]


def learner(random_state: int) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=random_state))


def _positions(pool: np.ndarray, picked: Any) -> np.ndarray:
    where = {int(v): k for k, v in enumerate(pool)}
    return np.array([where[int(v)] for v in np.asarray(picked).reshape(-1)], dtype=np.int64)


def select(lib: str, name: str, clf: Any, X: np.ndarray, y: np.ndarray, labeled: list[int], pool: np.ndarray,
           n: int, seed: int) -> np.ndarray:
    """Positions (into ``pool``) the peer library's strategy picks next."""
    classes = np.unique(y)
    if lib == "modAL":
        from modAL.uncertainty import entropy_sampling, margin_sampling

        fn = {"margin": margin_sampling, "entropy": entropy_sampling}[name]
        return np.asarray(fn(clf, X[pool], n_instances=n), dtype=np.int64).reshape(-1)[:n]
    if lib == "scikit-activeml":
        from skactiveml.classifier import SklearnClassifier
        from skactiveml.pool import Badge, Clue, UncertaintySampling

        y_partial = np.full(len(X), -1)
        y_partial[labeled] = y[labeled]
        if name in ("badge", "clue"):  # in the standardised space the classifier sees
            Xt = clf[0].transform(X)
            head = SklearnClassifier(clf[-1], classes=classes, missing_label=-1, random_state=seed)
            head.fit(Xt[labeled], y[labeled])
            if name == "badge":
                picked = Badge(missing_label=-1, random_state=seed).query(
                    X=Xt, y=y_partial, clf=head, fit_clf=False, candidates=pool, batch_size=n)
            else:
                picked = Clue(missing_label=-1, random_state=seed).query(
                    X=Xt, y=y_partial, estimator=head, fit_estimator=False, candidates=pool, batch_size=n)
        else:
            wrapped = SklearnClassifier(clf, classes=classes, missing_label=-1, random_state=seed)
            wrapped.fit(X[labeled], y[labeled])
            picked = UncertaintySampling(method="margin_sampling", missing_label=-1, random_state=seed).query(
                X=X, y=y_partial, clf=wrapped, fit_clf=False, candidates=pool, batch_size=n)
        return _positions(pool, picked)
    if lib == "small-text":
        from small_text.classifiers import SklearnClassifier
        from small_text.data import SklearnDataset
        from small_text.query_strategies import BreakingTies, LeastConfidence

        strategy = {"breaking_ties": BreakingTies, "least_confidence": LeastConfidence}[name]()
        wrapped = SklearnClassifier(clf, num_classes=int(y.max()) + 1)
        dataset = SklearnDataset(X, y, target_labels=np.arange(int(y.max()) + 1))
        return _positions(pool, strategy.query(wrapped, dataset, pool, np.asarray(labeled, dtype=np.int64),
                                               y[labeled], n=n))
    raise ValueError(f"unknown peer {lib}")


def one_run(lib: str, name: str, data: Any, seed: int) -> dict[str, Any]:
    X, y = data["X"], data["y"]
    batch, budget = int(data["batch"]), int(data["budget"])
    train, test = data[f"train{seed}"], data[f"test{seed}"]
    rs = int(data[f"random_state{seed}"])
    labeled = [int(train[p]) for p in data[f"initial{seed}"]]
    in_pool = np.zeros(len(X), dtype=bool)
    in_pool[train] = True
    in_pool[labeled] = False
    grid, acc, seconds = [], [], []
    while True:
        clf = learner(rs).fit(X[labeled], y[labeled])
        grid.append(len(labeled))
        acc.append(float((clf.predict(X[test]) == y[test]).mean()))
        n = min(batch, budget - len(labeled))
        pool = np.flatnonzero(in_pool)
        if n <= 0 or pool.size == 0:
            break
        started = time.perf_counter()
        picked = pool[select(lib, name, clf, X, y, labeled, pool, n, rs)]
        seconds.append(time.perf_counter() - started)
        if len(set(picked.tolist())) != n:
            raise RuntimeError(f"{lib}:{name} picked {len(set(picked.tolist()))} distinct items, asked {n}")
        labeled.extend(int(i) for i in picked)
        in_pool[picked] = False
    return {"method": f"{lib}:{name}", "seed": seed, "grid": grid, "accuracy": acc,
            "select_seconds": float(np.median(seconds))}


def run_peers(npz_path: Path, out_path: Path) -> None:
    data = np.load(npz_path)
    results = json.loads(out_path.read_text()) if out_path.exists() else {"runs": [], "full_data": {}}
    done = {(r["method"], r["seed"]) for r in results["runs"]}
    X, y = data["X"], data["y"]
    for seed in range(int(data["n_seeds"])):  # seeds outer: an interrupted run still has whole seeds
        if str(seed) not in results["full_data"]:
            train, test = data[f"train{seed}"], data[f"test{seed}"]
            clf = learner(int(data[f"random_state{seed}"])).fit(X[train], y[train])
            results["full_data"][str(seed)] = float((clf.predict(X[test]) == y[test]).mean())
        for lib, name in PEERS:
            if (f"{lib}:{name}", seed) not in done:
                results["runs"].append(one_run(lib, name, data, seed))
                print(f"{npz_path.parent.name} {lib}:{name} seed {seed}: final accuracy "
                      f"{results['runs'][-1]['accuracy'][-1]:.3f}", file=sys.stderr, flush=True)
                out_path.write_text(json.dumps(results))
    out_path.write_text(json.dumps(results))


if __name__ == "__main__":
    for index in range(1, len(sys.argv), 2):  # pairs: splits.npz peers.json ...
        run_peers(Path(sys.argv[index]), Path(sys.argv[index + 1]))
