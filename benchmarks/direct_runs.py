"""labelsieve's rounds without the service around them, for label_efficiency.py on a machine too busy for the loop.

Each round is what ``ActiveLearningLoop.retrain`` computes, minus the database, the stored ranking and the
predictions: the registered learner (``auto`` resolved as ``labelsieve simulate`` does, the seed's random_state)
fitted on the labelled items in task order with the loop's seeded pool sample (``pool_for_fit``), scored on the
held-out split, then the pool ranked by the project's strategy through the same ``build_context`` /
``full_ranking`` the loop calls, with the prequential signal (``best_prequential_accuracy``) from what the model
serving at each label's arrival predicted for it. The ranking generator is seeded per round from the project seed
(the loop derives its own; the two runs are the same method, not the same random draws). Same splits, seed sets
and output format as ``peer_runs.py`` (methods ``default:<strategy>``), so the tables treat them alike.

    .venv/bin/python benchmarks/direct_runs.py digits runs/le_final/digits/direct.json margin,adaptive [0,2,4]
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from labelsieve.learners.embedding_cache import EMBEDDINGS  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.service.pool_inputs import pool_for_fit  # noqa: E402
from labelsieve.service.ranking import build_context  # noqa: E402
from labelsieve.service.signals import best_prequential_accuracy  # noqa: E402
from labelsieve.simulate.datasets import load_dataset  # noqa: E402
from labelsieve.simulate.project_inputs import resolve_learner  # noqa: E402
from labelsieve.strategies.base import full_ranking  # noqa: E402


def one_run(name: str, strategy_name: str, seed: int, data: Any, items: list[Any], labels: np.ndarray,
            learner_name: str, params: dict[str, Any], budget: int) -> dict[str, Any]:
    registries = get_registries()
    batch = int(data["batch"])
    train, test = data[f"train{seed}"], data[f"test{seed}"]
    rs = int(data[f"random_state{seed}"])
    labeled = [int(p) for p in data[f"initial{seed}"]]  # positions into train, labelling order
    scored: list[tuple[Any, SimpleNamespace]] = []
    strategy = registries.strategies.create(strategy_name, {})
    grid, acc = [], []
    for round_no in range(10_000):
        order = sorted(labeled)  # the loop trains in task-id order
        pool = np.array(sorted(set(range(len(train))) - set(labeled)), dtype=np.int64)
        pool_inputs = [items[train[p]] for p in pool]
        y = [str(labels[train[p]]) for p in order]
        learner = registries.learners.create(learner_name, {**params, "random_state": rs})
        unlabeled = pool_for_fit(pool_inputs, np.random.default_rng(zlib.crc32(f"1:pool:{rs}:{len(y)}".encode())))
        learner.fit([items[train[p]] for p in order], y, unlabeled=unlabeled)
        grid.append(len(labeled))
        predicted = learner.predict([items[i] for i in test])
        acc.append(float(np.mean(np.array(predicted) == labels[test])))
        n = min(batch, budget - len(labeled))
        if n <= 0 or pool.size == 0:
            break
        probas, embeddings = learner.infer(pool_inputs)
        ctx = build_context(learner=learner, pool_inputs=pool_inputs, labeled_inputs=[items[train[p]] for p in order],
                            labeled_y=y, pool_ids=pool + 1, seed=int(np.random.SeedSequence([rs, round_no])
                                                                      .generate_state(1)[0]),
                            probas=probas, embeddings=embeddings,
                            prequential_accuracy=best_prequential_accuracy(scored))
        picked = full_ranking(strategy, ctx, batch)[0][:n]
        for k in picked:  # what the serving model said about each label before it trained on it
            said = learner.classes_[int(np.argmax(probas[k]))]
            scored.append((None, SimpleNamespace(id=len(scored) + 1, predicted_version="v", predicted_labels=[said],
                                                 labels=[str(labels[train[pool[k]]])])))
        labeled.extend(int(pool[k]) for k in picked)
    return {"method": f"default:{strategy_name}", "seed": seed, "grid": grid, "accuracy": acc}


def main() -> None:
    name, out = sys.argv[1], Path(sys.argv[2])
    strategies = list(dict.fromkeys([*sys.argv[3].split(","), "random"]))
    data = np.load(out.parent / "splits.npz")
    seeds = [int(s) for s in sys.argv[4].split(",")] if len(sys.argv) > 4 else list(range(int(data["n_seeds"])))
    budget = int(sys.argv[5]) if len(sys.argv) > 5 else int(data["budget"])  # e.g. random run on until it gets there
    dataset = load_dataset(name)
    choice = resolve_learner("auto", dataset)
    learner_name, params = choice.learner, choice.params
    items = list(dataset.inputs_for(get_registries().learners.create(learner_name, params).input_kind))
    if dataset.kind == "text" and params.get("embedding_model"):  # the peers' copy of the same vectors
        row = {t: i for i, t in enumerate(items)}
        EMBEDDINGS.encode(params["embedding_model"], items, lambda missing: data["X"][[row[t] for t in missing]])
    results = json.loads(out.read_text()) if out.exists() else {"runs": [], "full_data": {}, "learner": learner_name}
    done = {(r["method"], r["seed"]) for r in results["runs"]}
    for seed in seeds:
        if str(seed) not in results["full_data"]:
            train, test = data[f"train{seed}"], data[f"test{seed}"]
            learner = get_registries().learners.create(
                learner_name, {**params, "random_state": int(data[f"random_state{seed}"])})
            learner.fit([items[i] for i in train], [str(dataset.labels[i]) for i in train])
            results["full_data"][str(seed)] = float(np.mean(np.array(learner.predict([items[i] for i in test]))
                                                            == dataset.labels[test]))
        for strategy in strategies:
            if (f"default:{strategy}", seed) not in done:
                results["runs"].append(one_run(name, strategy, seed, data, items, dataset.labels, learner_name,
                                               params, budget))
                final = results["runs"][-1]["accuracy"][-1]
                print(f"{name} default:{strategy} seed {seed}: final accuracy {final:.3f}", file=sys.stderr, flush=True)
                out.write_text(json.dumps(results))
    out.write_text(json.dumps(results))


if __name__ == "__main__":
    main()
