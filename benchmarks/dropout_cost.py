"""What ``mc_dropout_boxes`` costs over a plain ranking pass, with its dropout samples computed inside the ranking
pass (``infer_with_dropout``) or in a pass of its own after it (the strategy's fallback, the only way before).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/dropout_cost.py [--pool 1000] [--repeats 2]

A tiny detector is fit for a few steps on 50 generated 64×64 shapes images (its quality does not matter here: the
passes' cost depends on the regions per image, capped at ``detections_per_img + 10``), then on ``pool`` other
images, interleaved ``repeats`` times so that the machine's load hits every variant alike: the plain pass
(``infer_regions``), the fused pass (``infer_with_dropout``, 8 passes at rate 0.2), and the separate way
(``infer_regions`` then the strategy's own pass: ``dropout_samples`` per block of 64 images). Prints JSON: seconds
per variant and run, medians, and each variant's ratio to the plain pass; and checks that the fused and separate
scores agree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from labelsieve.detection.dropout import SEED_BLOCK, image_disagreement
from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.synthetic import make_shapes


def separate(learner: DetectorLearner, pool: list, seed: int) -> np.ndarray:
    learner.infer_regions(pool)
    out = []
    for start in range(0, len(pool), SEED_BLOCK):
        samples = learner.dropout_samples(pool[start:start + SEED_BLOCK], passes=8, rate=0.2, seed=seed + start)
        out.extend(image_disagreement(s) for s in samples)
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fit-steps", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = make_shapes(args.pool + 50, size=64, seed=7)
    learner = DetectorLearner(epochs=1, min_steps=args.fit_steps, device="cpu").fit(
        data.images[:50], data.targets[:50], classes=data.classes)
    pool = list(data.images[50:])
    seconds: dict[str, list[float]] = {"plain": [], "fused": [], "separate": []}
    fused_scores = separate_scores = np.zeros(0)
    for _ in range(args.repeats):
        for name in seconds:
            started = time.perf_counter()
            if name == "plain":
                learner.infer_regions(pool)
            elif name == "fused":
                fused_scores = learner.infer_with_dropout(pool, passes=8, rate=0.2, seed=11)[2].scores
            else:
                separate_scores = separate(learner, pool, 11)
            seconds[name].append(round(time.perf_counter() - started, 2))
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    print(json.dumps({"pool": args.pool, "seconds": seconds, "median_s": medians,
                      "ratio_to_plain": {name: round(m / medians["plain"], 3) for name, m in medians.items()},
                      "fused_vs_separate_max_abs_diff": float(np.abs(fused_scores - separate_scores).max()),
                      "regions_per_image_kept": float(np.mean([len(d) for d in learner.infer(pool[:64])[0]]))},
                     indent=1))


if __name__ == "__main__":
    main()
