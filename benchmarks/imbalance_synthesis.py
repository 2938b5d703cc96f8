"""Does DDPM synthesis add on top of the best loss-based balancing? (issue 16, long-tailed digits).

Same protocol as ``benchmarks/imbalance.py`` (load_digits 8x8, exponential long tail, balanced test split). Per
(ratio, seed) the class-conditional DDPM (``ddpm`` synthesizer, trained on *all* labelled classes, so the tail
shares the network with the head; label dropout 0.1 trains the null token for classifier-free guidance) is fitted
**once**, a pool of samples is drawn with guidance w=1 and w=2, and every condition below picks its synthetic
images from that pool with the gates of ``labelsieve.balancing.quality`` (the functions ``prepare_training_set``
uses): confidence gate (logistic regression on the real pixels, threshold 0.5), optionally the novelty gate
(distance to the nearest real image of the class over the median real-to-real distance >= ``min_novelty``: no
near-copies of the 2 tail images), and a fill (synthetic images bring each class up to ``fill`` x the largest).
The image learner is then trained with the loss-based method on real + synthetic rows (as in the service, the
logit-adjustment prior counts the synthetic rows too: a fill of 1 makes it nearly uniform, hence the 0.25 fills).
The DDPM's cost is printed.

Run: ``OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/imbalance_synthesis.py --ratios 50 --seeds 3``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

import numpy as np
import torch
from imbalance import DDPM_PARAMS, IMAGE_PARAMS, fit_predict, long_tail_split, scores

from labelsieve.balancing import prepare_training_set
from labelsieve.balancing.diffusion import DDPMSynthesizer
from labelsieve.balancing.quality import novelty_gate, pixel_classifier, quality_gate

#: (guidance, min_novelty, fill, synthetic_weight)
CONDITIONS = [(1.0, 0.0, 1.0, 1.0), (1.0, 0.5, 1.0, 1.0), (2.0, 0.0, 1.0, 1.0), (2.0, 0.5, 1.0, 1.0),
              (1.0, 0.0, 0.25, 1.0), (1.0, 0.5, 0.25, 1.0), (2.0, 0.5, 0.25, 1.0), (1.0, 0.5, 1.0, 0.3)]
BASES = ("logit_adjusted", "logit_adjusted+drw")


def pick(images: list[np.ndarray], labels: list[str], keep: np.ndarray, wanted: dict[str, int]) -> list[int]:
    taken: Counter[str] = Counter()
    chosen = []
    for i in np.flatnonzero(keep):
        if taken[labels[i]] < wanted.get(labels[i], 0):
            chosen.append(int(i))
            taken[labels[i]] += 1
    return chosen


def run(ratio: float, seed: int) -> dict[str, Any]:
    X, y, X_test, y_test = long_tail_split(seed, ratio)
    counts = Counter(y)
    tail = sorted(counts, key=lambda c: counts[c])[:3]
    rows: dict[str, Any] = {}
    for base in BASES:
        ts = prepare_training_set(X, y, method=base, params={}, learner_name="image",
                                  rng=np.random.default_rng(seed), learner_params=IMAGE_PARAMS)
        rows[f"image {base}"] = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    ddpm = DDPMSynthesizer(**DDPM_PARAMS, random_state=seed).fit(X, y, rng=rng)
    fit_seconds = time.perf_counter() - started
    need = {c: max(counts.values()) - n for c, n in counts.items() if n < max(counts.values())}
    pools = {}
    started = time.perf_counter()
    for guidance in sorted({c[0] for c in CONDITIONS}):
        ddpm.guidance_scale = guidance
        pools[guidance] = ddpm.sample({c: int(np.ceil(1.5 * k)) for c, k in need.items()}, rng=rng)
    sample_seconds = time.perf_counter() - started
    classify, classes = pixel_classifier(X, y, random_state=seed)
    rows["_cost"] = (fit_seconds, sample_seconds)
    for guidance, min_novelty, fill, weight in CONDITIONS:
        images, labels = pools[guidance]
        keep, _ = quality_gate(images, labels, classify=classify, classes=classes, threshold=0.5)
        novel, novelty = novelty_gate(images, labels, real_images=X, real_labels=y, min_novelty=min_novelty)
        keep = keep & novel
        wanted = {c: max(0, int(round(fill * max(counts.values()))) - n) for c, n in counts.items()}
        chosen = pick(images, labels, keep, wanted)
        tail_kept = [i for i in chosen if labels[i] in tail]
        name = f"w={guidance:g} novelty>={min_novelty:g} fill {fill:g} weight {weight:g}"
        rows[f"_gate {name}"] = (100 * float(keep.mean()), len(chosen),
                                 float(np.median(novelty[tail_kept])) if tail_kept else float("nan"))
        for base in BASES:
            X_all = X + [images[i] for i in chosen]
            y_all = y + [labels[i] for i in chosen]
            ts = prepare_training_set(X_all, y_all, method=base, params={}, learner_name="image",
                                      rng=np.random.default_rng(seed), learner_params=IMAGE_PARAMS)
            ts.sample_weight = np.concatenate([np.ones(len(X)), np.full(len(chosen), weight)])
            rows[f"image {base}+ddpm {name}"] = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
        print(f"  IR {ratio:g} seed {seed} {name}: kept {len(chosen)}, {rows[f'image logit_adjusted+ddpm {name}']}",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", type=float, nargs="+", default=[50.0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="append one JSON line per (ratio, seed); summarise with "
                        "benchmarks/imbalance.py --summarise")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    for ratio in args.ratios:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows = run(ratio, seed)
            print(f"IR {ratio:g} seed {seed}: DDPM fit {rows['_cost'][0]:.0f} s, sampling {rows['_cost'][1]:.0f} s",
                  flush=True)
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"ratio": ratio, "seed": seed, "rows": rows}) + "\n")


if __name__ == "__main__":
    main()
