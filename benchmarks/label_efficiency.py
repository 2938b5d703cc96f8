"""Label efficiency on digits: labelsieve's strategies against scikit-activeml, modAL and small-text.

Protocol (the same for every method): labelsieve's splits (80/20 stratified, per seed), its
stratified seed set (two per class), batches of 10 up to the budget, and the same learner recipe:
features standardised on the labelled set + ``LogisticRegression(C=1, max_iter=2000)`` with the
seed's ``random_state`` on the 64 raw pixels. labelsieve's runs go through ``labelsieve simulate``
(the ActiveLearningLoop, its database and its ranking); the peers run in ``.venv-bench`` in a
subprocess that reads the very same split indices from an ``.npz`` file and uses only the peer
library's query strategy to pick each batch. Targets are 95% / 98% of each seed's full-data
accuracy; savings are paired with labelsieve's random run on the same seed (bootstrap CI). Every process
uses one BLAS thread; ``--jobs`` splits labelsieve's seeds over worker processes; an interrupted run resumes.

    .venv/bin/python benchmarks/label_efficiency.py --seeds 10 --budget 400 --jobs 3 \
        --strategies margin,entropy,least_confidence,cluster_margin,badge,density_weighted --out runs/label_efficiency
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS/OpenMP (so torch) thread per process (the peer subprocess inherits it)

import numpy as np  # noqa: E402

#: (library, strategy) run for every seed; scikit-activeml's coreset is wired in ``_select`` too.
PEERS = [("scikit-activeml", "margin"), ("modAL", "margin"), ("small-text", "breaking_ties"),
         ("scikit-activeml", "entropy"), ("modAL", "entropy"), ("small-text", "entropy"),
         ("scikit-activeml", "least_confident"), ("modAL", "uncertainty"), ("small-text", "least_confidence"),
         ("scikit-activeml", "badge"), ("scikit-activeml", "clue")]


# ----------------------------------------------------------------------------- peer side (.venv-bench)
def _learner(random_state: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=random_state))


def _select(lib: str, name: str, clf: Any, X: np.ndarray, y: np.ndarray, labeled: list[int], pool: np.ndarray,
            n: int, seed: int) -> np.ndarray:
    """Positions (into ``pool``) the peer library's strategy picks next."""
    if lib == "modAL":
        from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling

        fn = {"margin": margin_sampling, "entropy": entropy_sampling, "uncertainty": uncertainty_sampling}[name]
        return np.asarray(fn(clf, X[pool], n_instances=n), dtype=np.int64).reshape(-1)[:n]
    if lib == "scikit-activeml":
        from skactiveml.classifier import SklearnClassifier
        from skactiveml.pool import Badge, Clue, CoreSet, UncertaintySampling

        y_partial = np.full(len(X), -1)
        y_partial[labeled] = y[labeled]
        candidates = pool
        if name == "coreset":
            picked = CoreSet(missing_label=-1, random_state=seed).query(
                X=clf[0].transform(X), y=y_partial, candidates=candidates, batch_size=n)
        elif name in ("badge", "clue"):  # in the standardised space the classifier sees, as labelsieve's embed
            Xt = clf[0].transform(X)
            head = SklearnClassifier(clf[-1], classes=np.unique(y), missing_label=-1, random_state=seed)
            head.fit(Xt[labeled], y[labeled])
            if name == "badge":
                picked = Badge(missing_label=-1, random_state=seed).query(
                    X=Xt, y=y_partial, clf=head, fit_clf=False, candidates=candidates, batch_size=n)
            else:
                picked = Clue(missing_label=-1, random_state=seed).query(
                    X=Xt, y=y_partial, estimator=head, fit_estimator=False, candidates=candidates, batch_size=n)
        else:
            method = {"margin": "margin_sampling", "entropy": "entropy", "least_confident": "least_confident"}[name]
            wrapped = SklearnClassifier(clf, classes=np.unique(y), missing_label=-1, random_state=seed)
            wrapped.fit(X[labeled], y[labeled])
            picked = UncertaintySampling(method=method, missing_label=-1, random_state=seed).query(
                X=X, y=y_partial, clf=wrapped, fit_clf=False, candidates=candidates, batch_size=n)
        where = {int(v): k for k, v in enumerate(pool)}
        return np.array([where[int(v)] for v in np.asarray(picked).reshape(-1)], dtype=np.int64)
    if lib == "small-text":
        from small_text.classifiers import SklearnClassifier
        from small_text.data import SklearnDataset
        from small_text.query_strategies import BreakingTies, LeastConfidence, PredictionEntropy

        strategy = {"breaking_ties": BreakingTies, "entropy": PredictionEntropy,
                    "least_confidence": LeastConfidence}[name]()
        wrapped = SklearnClassifier(clf, num_classes=int(y.max()) + 1)
        dataset = SklearnDataset(X, y, target_labels=np.arange(int(y.max()) + 1))
        picked = strategy.query(wrapped, dataset, pool, np.asarray(labeled, dtype=np.int64), y[labeled], n=n)
        where = {int(v): k for k, v in enumerate(pool)}
        return np.array([where[int(v)] for v in np.asarray(picked).reshape(-1)], dtype=np.int64)
    raise ValueError(f"unknown peer {lib}")


def run_peers(npz_path: Path, out_path: Path) -> None:
    data = np.load(npz_path)
    X, y = data["X"], data["y"]
    batch, budget = int(data["batch"]), int(data["budget"])
    results = json.loads(out_path.read_text()) if out_path.exists() else []  # resume: skip finished runs
    done = {(r["method"], r["seed"]) for r in results}
    for seed in range(int(data["n_seeds"])):  # seeds outer: an interrupted run still has whole seeds
        for lib, name in PEERS:
            if (f"{lib}:{name}", seed) in done:
                continue
            train, test = data[f"train{seed}"], data[f"test{seed}"]
            rs = int(data[f"random_state{seed}"])
            labeled = [int(train[p]) for p in data[f"initial{seed}"]]
            in_pool = np.ones(len(X), dtype=bool)
            in_pool[test] = False
            in_pool[labeled] = False
            grid, acc, select = [], [], []
            while True:
                clf = _learner(rs).fit(X[labeled], y[labeled])
                grid.append(len(labeled))
                acc.append(float((clf.predict(X[test]) == y[test]).mean()))
                n = min(batch, budget - len(labeled))
                pool = np.flatnonzero(in_pool)
                if n <= 0 or pool.size == 0:
                    break
                started = time.perf_counter()
                picked = pool[_select(lib, name, clf, X, y, labeled, pool, n, rs)]
                select.append(time.perf_counter() - started)
                assert len(set(picked.tolist())) == n
                labeled.extend(int(i) for i in picked)
                in_pool[picked] = False
            results.append({"method": f"{lib}:{name}", "seed": seed, "grid": grid, "accuracy": acc,
                            "select_seconds": float(np.median(select))})
            print(f"{lib}:{name} seed {seed}: final accuracy {acc[-1]:.3f}", file=sys.stderr, flush=True)
            out_path.write_text(json.dumps(results))


# ------------------------------------------------------------------------------ labelsieve side
def export_splits(out: Path, seeds: int, batch: int, budget: int) -> Path:
    from labelsieve.simulate.datasets import load_digits_dataset
    from labelsieve.simulate.splits import make_split

    data = load_digits_dataset()
    X = np.stack([np.asarray(item, dtype=np.float32).reshape(-1) for item in data.items])  # labelsieve's inputs
    arrays: dict[str, Any] = {"X": X, "y": data.labels.astype(int), "batch": batch, "budget": budget,
                              "n_seeds": seeds}
    for seed in range(seeds):
        split = make_split(data.labels, base_seed=0, seed=seed, test_fraction=0.2, initial=20)
        arrays |= {f"train{seed}": split.train, f"test{seed}": split.test, f"initial{seed}": split.initial,
                   f"random_state{seed}": int(np.random.SeedSequence([0, seed]).generate_state(1)[0] % 2**31)}
    path = out / "splits.npz"
    np.savez(path, **arrays)
    return path


def table(report: dict[str, Any], peers: list[dict[str, Any]], out: Path) -> str:
    from labelsieve.simulate.savings import (
        aulc,
        bootstrap_indices,
        labels_to_target,
        median_labels,
        paired_savings,
    )

    seeds = report["seeds"]
    full = np.array(report["full_data"]["per_seed"])
    censor = report["protocol"]["budget"] + report["protocol"]["batch_size"]
    boot = bootstrap_indices(len(seeds))
    methods: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    from labelsieve.report.build import read_run
    from labelsieve.simulate.store import RunStore

    for name, entry in report["strategies"].items():
        runs = [read_run(RunStore(out / "labelsieve"), name, seed) for seed in seeds]
        methods[f"labelsieve:{name}"] = (np.array(entry["grid"]),
                                         np.array([[row["accuracy"] for row in r["rounds"]] for r in runs if r]))
    for method in sorted({p["method"] for p in peers}):
        runs = sorted((p for p in peers if p["method"] == method and p["seed"] in seeds), key=lambda p: p["seed"])
        if len(runs) != len(seeds):
            print(f"{method}: {len(runs)} of {len(seeds)} seeds finished; left out", file=sys.stderr)
            continue
        methods[method] = (np.array(runs[0]["grid"]), np.array([p["accuracy"] for p in runs]))
    rand_grid, rand = methods["labelsieve:random"]
    n_random = {f: labels_to_target(rand_grid, rand, f * full) for f in (0.95, 0.98)}
    lines = [f"digits, {len(seeds)} seeds, seed set 20 (stratified), batch 10, budget {report['protocol']['budget']}, "
             f"full-data accuracy {full.mean():.4f}; savings paired with labelsieve:random on the same seed",
             "| method | labels to 95% (median) | savings at 95% [95% CI] | labels to 98% (median) | "
             "savings at 98% [95% CI] | AULC |", "|---|---|---|---|---|---|"]
    stats: dict[str, dict[str, Any]] = {}
    for method, (grid, curves) in methods.items():
        cells, entry = [method], {"aulc": aulc(grid, curves).round(6).tolist()}
        for f in (0.95, 0.98):
            n = labels_to_target(grid, curves, f * full)
            s = paired_savings(n, n_random[f], censor_at=censor, boot=boot)
            entry[f"labels_{f}"], entry[f"savings_{f}"] = [censor if v is None else v for v in n], s["savings"]
            cells += [str(median_labels(n, censor)),
                      f"{s['savings']:.1%} [{s['savings_ci'][0]:.1%}, {s['savings_ci'][1]:.1%}]"]
        cells.append(f"{np.mean(entry['aulc']):.4f}")
        lines.append("| " + " | ".join(cells) + " |")
        stats[method] = entry
    lines += best_of_each_library(stats, boot, censor)
    lines += ["", f"labels to 95% / 98% per seed ({', '.join(map(str, seeds))}; {censor} = not reached):", "",
              "| method | to 95% | to 98% |", "|---|---|---|"]
    lines += [f"| {m} | {' '.join(map(str, e['labels_0.95']))} | {' '.join(map(str, e['labels_0.98']))} |"
              for m, e in stats.items()]
    text = "\n".join(lines)
    (out / "table.md").write_text(text + "\n")
    (out / "per_seed.json").write_text(json.dumps({"seeds": seeds, "full_data": full.tolist(), "methods": stats}))
    return text


def best_of_each_library(stats: dict[str, dict[str, Any]], boot: np.ndarray, censor: int) -> list[str]:
    """Each library's best method per target (mean paired savings), and labelsieve's best against each peer's best:
    the paired per-seed difference in labels (peer − labelsieve, > 0 = labelsieve needs fewer) with a bootstrap CI.
    Picking the best after the fact favours every library alike (same number of tries is not guaranteed)."""
    from labelsieve.simulate.savings import percentile_ci

    lines = ["", "| target | library | best method | savings | labels: peer best − labelsieve best [95% CI] |",
             "|---|---|---|---|---|"]
    for f in (0.95, 0.98):
        best: dict[str, str] = {}
        for method, entry in stats.items():
            lib = method.split(":")[0]
            if method == "labelsieve:random":
                continue
            key = (entry[f"savings_{f}"], float(np.mean(entry["aulc"])))
            if lib not in best or key > (stats[best[lib]][f"savings_{f}"], float(np.mean(stats[best[lib]]["aulc"]))):
                best[lib] = method
        ours = np.array(stats[best["labelsieve"]][f"labels_{f}"], dtype=np.float64)
        for lib, method in best.items():
            cell = "—"
            if lib != "labelsieve":
                diff = np.array(stats[method][f"labels_{f}"], dtype=np.float64) - ours
                lo, hi = percentile_ci(diff, boot)
                cell = f"{diff.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]"
            lines.append(f"| {f:.0%} | {lib} | {method} | {stats[method][f'savings_{f}']:.1%} | {cell} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--strategies", default="margin,entropy")
    parser.add_argument("--out", type=Path, default=Path("runs/label_efficiency"))
    parser.add_argument("--bench-python", default=".venv-bench/bin/python")
    parser.add_argument("--peer", type=Path, help=argparse.SUPPRESS)  # internal: run peers on this .npz
    parser.add_argument("--peer-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help="labelsieve worker processes (seeds split among them)")
    parser.add_argument("--ls-seeds", help=argparse.SUPPRESS)  # internal: a worker runs these seed indices
    parser.add_argument("--table-only", action="store_true", help="Rebuild the table from what --out holds.")
    args = parser.parse_args()
    if args.peer is not None:
        run_peers(args.peer, args.peer_out)
        return

    from labelsieve.report.build import build_report
    from labelsieve.simulate.datasets import load_digits_dataset
    from labelsieve.simulate.runner import Simulation, SimulationConfig
    from labelsieve.simulate.store import RunStore

    config = SimulationConfig(strategies=tuple(args.strategies.split(",")), initial=20, batch_size=10,
                              budget=args.budget, seeds=args.seeds)
    if args.ls_seeds is not None:
        Simulation(dataset=load_digits_dataset(), config=config, store=RunStore(args.out / "labelsieve")).run(
            only_seeds=[int(s) for s in args.ls_seeds.split(",") if s])
        return
    if args.table_only:
        print(table(build_report(args.out / "labelsieve"), json.loads((args.out / "peers.json").read_text()), args.out))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    splits = export_splits(args.out, args.seeds, 10, args.budget)
    peers_path = args.out / "peers.json"
    peer_proc = subprocess.Popen([args.bench_python, __file__, "--peer", str(splits), "--peer-out",
                                      str(peers_path)])
    started = time.perf_counter()
    if args.jobs <= 1:
        Simulation(dataset=load_digits_dataset(), config=config, store=RunStore(args.out / "labelsieve")).run()
    else:
        common = ["--seeds", str(args.seeds), "--budget", str(args.budget), "--strategies", args.strategies,
                  "--out", str(args.out)]
        workers = [subprocess.Popen([sys.executable, __file__, *common, "--ls-seeds",
                                     ",".join(str(s) for s in range(k, args.seeds, args.jobs))])
                   for k in range(args.jobs)]
        if any(w.wait() != 0 for w in workers):
            raise SystemExit("a labelsieve worker failed (see its output above)")
    print(f"labelsieve runs: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report = build_report(args.out / "labelsieve")
    if peer_proc.wait() != 0:
        raise SystemExit("the peer subprocess failed (see its output above)")
    print(table(report, json.loads(peers_path.read_text()), args.out))


if __name__ == "__main__":
    main()
