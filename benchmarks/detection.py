"""Boxes benchmark: labels (images, boxes) to 90% of full-data mAP@0.5 for labelsieve's aggregations (sum, mean,
max of per-box entropy) vs random vs Label Studio's example rule (mean of scores >= 0.5, empty = 0), on the generated
shapes set; and the cost of one round (fit + rank) on a 1k-image pool with peak memory.

    OMP_NUM_THREADS=1 python benchmarks/detection.py savings --seeds 3 --out runs/bench-detection
    OMP_NUM_THREADS=1 python benchmarks/detection.py round-cost --pool 1000

Prints JSON; benchmarks/results/detection.md holds the tables written from it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.uncertainty import pool_uncertainty
from labelsieve.simulate.detection import BoxSimulationConfig, run_box_simulation


def savings(args: argparse.Namespace) -> dict:
    data = make_shapes(args.images, size=args.size, seed=args.data_seed)
    config = BoxSimulationConfig(
        strategies=tuple(args.rankings.split(",")), initial=args.initial, batch_size=args.batch_size,
        budget=args.budget, seeds=args.seeds, test_fraction=0.3, base_seed=args.first_seed,
        learner_params={"epochs": args.epochs, "min_steps": args.min_steps, "image_size": args.size},
    )
    started = time.perf_counter()
    report = run_box_simulation(data, config, progress=lambda line: print(line, flush=True))
    report["seconds"] = time.perf_counter() - started
    return report


def round_cost(args: argparse.Namespace) -> dict:
    pool = make_shapes(args.pool, size=args.size, seed=7)
    labelled = make_shapes(args.labelled, size=args.size, seed=8)
    started = time.perf_counter()
    learner = DetectorLearner(epochs=args.epochs, min_steps=args.min_steps, image_size=args.size).fit(
        labelled.images, labelled.targets, classes=labelled.classes)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    detections, embeddings = learner.infer(pool.images)
    infer_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = {name: pool_uncertainty(detections, aggregation=name) for name in ("sum", "mean", "max")}
    rank_s = time.perf_counter() - started
    return {"pool": args.pool, "labelled": args.labelled, "fit_s": fit_s, "infer_s": infer_s, "rank_s": rank_s,
            "embedding_dim": int(embeddings.shape[1]),
            "finite": bool(all(np.isfinite(v).all() for v in scores.values())),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("savings", "round-cost"))
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--data-seed", type=int, default=2026)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rankings", default="sum,mean,max,ls_example,random",
                        help="comma-separated rankings of labelsieve.simulate.detection.RANKINGS")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--budget", type=int, default=70)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--min-steps", type=int, default=60)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--labelled", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = savings(args) if args.mode == "savings" else round_cost(args)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.mode}-{args.first_seed}.json").write_text(text)
    print(json.dumps(result.get("savings", result), indent=1))


if __name__ == "__main__":
    main()
