"""Does labelsieve's margin loop pick what a plain scikit-learn margin loop picks on the same labelled set?

For each seed, one labelsieve margin run (``Simulation.run_one``: the ActiveLearningLoop, its database and
ranking) on the benchmark's split; then, round by round, the peers' recipe (``StandardScaler`` +
``LogisticRegression(C=1, max_iter=2000)``, rows in labelling order) is fitted on the very set labelsieve had
labelled and its 10 smallest-margin pool items are compared with labelsieve's batch. Prints every round whose
batch or held-out accuracy differs, with the margins (under the peer model) of the items that differ.

    .venv/bin/python benchmarks/margin_parity.py --seeds 5 --budget 400 --out runs/margin_parity
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from labelsieve.report.build import read_run  # noqa: E402
from labelsieve.simulate.datasets import load_digits_dataset  # noqa: E402
from labelsieve.simulate.runner import Simulation, SimulationConfig  # noqa: E402
from labelsieve.simulate.splits import make_split  # noqa: E402
from labelsieve.simulate.store import RunStore  # noqa: E402
from labelsieve.storage import crud  # noqa: E402
from labelsieve.storage.db import make_engine, session_scope  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("runs/margin_parity"))
    args = parser.parse_args()
    data = load_digits_dataset()
    X = np.stack([np.asarray(item, dtype=np.float32).reshape(-1) for item in data.items])
    y = data.labels.astype(int)
    store = RunStore(args.out)
    sim = Simulation(dataset=data, store=store, config=SimulationConfig(
        strategies=("margin",), initial=20, batch_size=10, budget=args.budget, seeds=args.seeds))
    sim.prepare()
    store.open(sim.protocol())
    for seed in range(args.seeds):
        split = make_split(data.labels, base_seed=0, seed=seed, test_fraction=0.2, initial=20)
        sim.run_one("margin", split)
        engine = make_engine(store.database_url("margin", seed))
        with session_scope(engine) as session:
            order = [int(split.train[a.task_id - 1]) for a in crud.list_annotations(session=session, project_id=1)]
            batches = [[int(split.train[t - 1]) for t in r.batch[:10]]
                       for r in crud.list_query_rounds(session=session, project_id=1)]
        engine.dispose()
        accuracy = [r["accuracy"] for r in read_run(store, "margin", seed)["rounds"]]  # type: ignore[index]
        assert order[:20] == [int(split.train[p]) for p in split.initial], "seed set differs from the split's"
        same = 0
        for k, batch in enumerate(batches):
            labeled = order[: 20 + 10 * k]
            if len(labeled) >= args.budget:
                break
            clf = make_pipeline(StandardScaler(), LogisticRegression(
                C=1.0, max_iter=2000, random_state=sim.project_seed(seed))).fit(X[labeled], y[labeled])
            pool = np.setdiff1d(split.train, labeled)
            top2 = np.sort(clf.predict_proba(X[pool]), axis=1)[:, -2:]
            margin = top2[:, 1] - top2[:, 0]
            picked = set(pool[np.argsort(margin, kind="stable")[:10]].tolist())
            peer_accuracy = float((clf.predict(X[split.test]) == y[split.test]).mean())
            if picked == set(batch) and abs(peer_accuracy - accuracy[k]) < 1e-9:
                same += 1
                continue
            by_item = dict(zip(pool.tolist(), margin.tolist(), strict=True))
            ours = [(i, round(by_item[i], 6)) for i in set(batch) - picked]
            theirs = [(i, round(by_item[i], 6)) for i in picked - set(batch)]
            print(f"seed {seed} round {k} ({len(labeled)} labels): accuracy labelsieve {accuracy[k]:.4f} "
                  f"peer {peer_accuracy:.4f}; labelsieve only {ours}, peer only {theirs}")
        print(f"seed {seed}: {same} of {len(batches) - 1} rounds pick the same batch with the same accuracy")


if __name__ == "__main__":
    main()
