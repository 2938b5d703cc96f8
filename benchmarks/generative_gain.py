"""What each synthesizer adds on top of the best non-generative method (issue 28), long-tailed digits.

Protocol of ``benchmarks/imbalance.py`` (load_digits 8x8, exponential long tail at ``--ratios``, rare digits
permuted per seed, balanced test split; image learner ``IMAGE_PARAMS``). The baseline is what ``auto`` gives the
image learner: logit adjustment with tau 1.5. Each generator row is ``logit_adjusted+<synthesizer>`` through
``prepare_training_set`` exactly as a retrain runs it: the default gates (classifier agreement >= 0.5, novelty >=
0.1), per-class cap, ``synthetic_fill`` 0.25 (the fill that worked for the DDPM, README Balancing). Per row: mean
macro-F1 and tail recall (3 rarest classes), the paired gain over the baseline with a 95 % t-interval over seeds,
the synthesizer's wall time (fit + sample + gates) and its gate pass rate (kept + capped over drawn).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/generative_gain.py --ratios 50 --seeds 3
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line  # noqa: E402
from benchmarks.imbalance import DDPM_PARAMS, IMAGE_PARAMS, fit_predict, long_tail_split, scores  # noqa: E402

from labelsieve.balancing import prepare_training_set  # noqa: E402

GAN_PARAMS = {"image_size": 8, "width": 32, "train_steps": 300, "batch_size": 64}
GENERATORS: dict[str, dict[str, Any]] = {"dcgan": GAN_PARAMS, "ddpm": DDPM_PARAMS}
BASE = {"loss_tau": 1.5}


def interval(values: list[float]) -> str:
    a = np.asarray(values)
    if len(a) < 2:
        return f"{a.mean():+.1f}"
    half = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    return f"{a.mean():+.1f} [{a.mean() - half:+.1f}, {a.mean() + half:+.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratios", default="50")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--generators", default="dcgan,ddpm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table: dict[tuple[float, str], list[dict[str, float]]] = {}
    for ratio in [float(r) for r in args.ratios.split(",")]:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            X, y, X_test, y_test = long_tail_split(seed, ratio)
            ts = prepare_training_set(X, y, method="logit_adjusted", params=BASE, learner_name="image",
                                      rng=np.random.default_rng(seed), learner_params=IMAGE_PARAMS)
            base = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
            table.setdefault((ratio, "logit_adjusted τ1.5"), []).append(
                {"f1": base[0], "tail": base[2], "gain_f1": 0.0, "gain_tail": 0.0, "seconds": 0.0, "pass": np.nan})
            for name in args.generators.split(","):
                params = {**BASE, "synthesizer_params": {**GENERATORS[name], "random_state": seed},
                          "synthetic_fill": 0.25}
                ts = prepare_training_set(X, y, method=f"logit_adjusted+{name}", params=params, learner_name="image",
                                          rng=np.random.default_rng(seed), learner_params=IMAGE_PARAMS)
                got = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
                drawn = ts.info.get("synthetic_drawn", 0)
                batch = ts.info.get("synthetic")
                passed = (drawn - batch.rejected) / drawn if batch is not None and drawn else 0.0
                row = {"f1": got[0], "tail": got[2], "gain_f1": got[0] - base[0], "gain_tail": got[2] - base[2],
                       "seconds": ts.info.get("synthetic_seconds", 0.0), "pass": passed,
                       "kept": int(ts.synthetic_mask.sum())}
                table.setdefault((ratio, f"+ {name}"), []).append(row)
                print(ratio, seed, name, {k: round(float(v), 2) for k, v in row.items()}, ts.info.get("skipped"),
                      flush=True)
    print("\n| IR | method | macro-F1 | tail recall | gain macro-F1 (95 % CI) | gain tail recall (95 % CI) "
          "| synthesis s | gate pass |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (ratio, name), rows in table.items():
        col = {k: [r[k] for r in rows] for k in rows[0]}
        gate = "" if np.isnan(col["pass"][0]) else f"{100 * np.mean(col['pass']):.0f} %"
        gains = ("—", "—") if name.startswith("logit") else (interval(col["gain_f1"]), interval(col["gain_tail"]))
        print(f"| {ratio:.0f} | {name} | {np.mean(col['f1']):.1f} | {np.mean(col['tail']):.1f} | {gains[0]} "
              f"| {gains[1]} | {np.median(col['seconds']):.0f} | {gate} |")
    print(f"\n(seeds: {args.seeds}) {machine_line()}")


if __name__ == "__main__":
    main()
