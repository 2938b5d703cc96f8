"""The image learners in the first rounds (issue 15, item 3): held-out accuracy on digits images after 10 to 200
labels, for the plain CNN (``image``), ``auto_image`` (linear on pool-standardised pixels until the CNN wins a
cross-validation on the labelled set; its linear part spreads labels over the pool) and its linear part without
label spreading, and with statistics from the labelled set only.

Per seed: labelsieve's 80/20 split of digits (8×8 images as uint8), the labelled set = the first n items of a
seeded permutation of the training split (random labels, as the first rounds of a project), the rest of the
training split is the unlabeled pool passed as ``unlabeled=``. "classes predicted" counts the distinct classes
predicted on the held-out split (1 = the collapse ``make demo`` showed).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/auto_image.py --seeds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line  # noqa: E402

from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.simulate.splits import make_split  # noqa: E402

LEARNERS: dict[str, tuple[str, dict[str, Any]]] = {
    "image (CNN)": ("image", {}),
    "auto_image": ("auto_image", {}),
    "auto_image(no_spreading)": ("auto_image", {"linear_params": {"semi_supervised": None}}),
    "auto_image(labelled_stats)": ("auto_image", {"linear_params": {"pool_stats": False, "semi_supervised": None}}),
}


def digits_images() -> tuple[list[np.ndarray], np.ndarray]:
    data = load_digits()
    return list((data.images / 16.0 * 255).round().astype(np.uint8)), data.target.astype(str)


Row = tuple[float, int, str, float]  # accuracy, classes predicted, chosen model, fit seconds


def run(sizes: list[int], seeds: int, learners: list[str]) -> dict[tuple[str, int], list[Row]]:
    torch.set_num_threads(1)
    registries = get_registries()
    images, y = digits_images()
    results: dict[tuple[str, int], list[Row]] = {}
    for seed in range(seeds):
        split = make_split(y, base_seed=0, seed=seed, test_fraction=0.2, initial=10)
        order = np.random.default_rng([seed, 3]).permutation(split.train)
        test = [images[i] for i in split.test]
        for n in sizes:
            labeled, pool = order[:n], order[n:]
            for name in learners:
                kind, params = LEARNERS[name]
                learner = registries.learners.create(kind, {**params, "random_state": seed})
                started = time.perf_counter()
                learner.fit([images[i] for i in labeled], y[labeled].tolist(), unlabeled=[images[i] for i in pool])
                seconds = time.perf_counter() - started
                predicted = np.array(learner.predict(test))
                chosen = getattr(learner, "chosen_", "cnn")
                results.setdefault((name, n), []).append(
                    (float(np.mean(predicted == y[split.test])), len(set(predicted.tolist())), chosen, seconds))
                print(name, n, seed, f"{results[(name, n)][-1][0]:.3f}", chosen, f"{seconds:.1f}s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", default="10,20,50,100,200")
    parser.add_argument("--learners", default=",".join(LEARNERS))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    learners = args.learners.split(",")
    results = run(sizes, args.seeds, learners)
    print("\n| learner | labels | accuracy % (mean ± sd) | classes predicted (min) | chose CNN | fit s (median) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in learners:
        for n in sizes:
            rows = results[(name, n)]
            acc = 100 * np.array([r[0] for r in rows])
            print(f"| {name} | {n} | {acc.mean():.1f} ± {acc.std():.1f} | {min(r[1] for r in rows)} | "
                  f"{sum(r[2] == 'cnn' for r in rows)}/{len(rows)} | {np.median([r[3] for r in rows]):.1f} |")
    print(f"\n({args.seeds} seeds, digits 80/20 split, held-out accuracy) {machine_line()}")


if __name__ == "__main__":
    main()
