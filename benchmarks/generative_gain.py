"""What each synthesizer and add-on adds on top of the best non-generative method (issue 28), long-tailed digits.

Protocol of ``benchmarks/imbalance.py`` (load_digits 8x8, exponential long tail at ``--ratios``, rare digits
permuted per seed, balanced test split; image learner ``IMAGE_PARAMS``: 8 px CNN, 30 epochs). The baseline is
what ``auto`` gives the image learner: logit adjustment with tau 1.5 (the best non-generative method of the
issue-6/16 tables, README Balancing). Each other row adds one method to it, through ``prepare_training_set``
exactly as a retrain runs it:

- ``dcgan`` / ``ddpm``: ``logit_adjusted+<synthesizer>`` with the default gates (classifier agreement >= 0.5,
  novelty >= 0.1), per-class cap, ``synthetic_fill`` 0.25;
- ``kmeans_smote``: ``logit_adjusted+kmeans_smote`` on the 64 pixels (imbalanced-learn's KMeansSMOTE; the
  interpolated vectors are rounded back to 8x8 images for the CNN: the benchmark does the reshape);
- ``salt_pepper``: ``logit_adjusted+augment`` with the ``salt_pepper`` augmenter (impulse noise, stronger on
  minority classes).

Per row: mean macro-F1 and tail recall (3 rarest classes), the paired gain over the baseline of the same seed
with a 95 % t-interval over seeds, the method's wall time (fit + sample + gates for a synthesizer), the CNN fit's
wall time (augmentation runs inside it) and the gate
pass rate (kept + capped over drawn). Seeds are the outer loop and every cell is appended to ``--json`` as it
finishes; a later run into the same file skips what it holds, so runs can be split by method and a run cut short
still tabulates (``--table-only``).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/generative_gain.py --ratios 10,50,100 --seeds 5 \
        --json runs/gain.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import machine_line, t_interval  # noqa: E402
from benchmarks.imbalance import DDPM_PARAMS, IMAGE_PARAMS, fit_predict, long_tail_split, scores  # noqa: E402

from labelsieve.balancing import prepare_training_set  # noqa: E402

GAN_PARAMS = {"image_size": 8, "width": 32, "train_steps": 300, "batch_size": 64}
SYNTHESIZERS: dict[str, dict[str, Any]] = {"dcgan": GAN_PARAMS, "ddpm": DDPM_PARAMS}
BASE = {"loss_tau": 1.5}
BASELINE = "logit_adjusted τ1.5"
ADDONS = ("kmeans_smote", "salt_pepper")


def balanced(X: list[Any], y: list[str], name: str, seed: int, ddpm_steps: int) -> Any:
    """The training set of row ``name`` (the baseline or the baseline plus one method)."""
    rng = np.random.default_rng(seed)
    if name == BASELINE:
        return prepare_training_set(X, y, method="logit_adjusted", params=BASE, learner_name="image", rng=rng)
    if name == "kmeans_smote":
        flat = np.stack([np.asarray(x, dtype=np.float32).reshape(-1) for x in X])
        ts = prepare_training_set(flat, y, method="logit_adjusted+kmeans_smote", params=BASE, learner_name="image",
                                  rng=rng)
        side = np.asarray(X[0]).shape
        ts.X = [np.clip(np.rint(row), 0, 255).astype(np.uint8).reshape(side) for row in np.asarray(ts.X)]
        return ts
    if name == "salt_pepper":
        return prepare_training_set(X, y, method="logit_adjusted+augment", params={**BASE, "augmenter": "salt_pepper"},
                                    learner_name="image", rng=rng)
    synth = dict(SYNTHESIZERS[name], random_state=seed)
    if name == "ddpm":
        synth["train_steps"] = ddpm_steps
    params = {**BASE, "synthesizer_params": synth, "synthetic_fill": 0.25}
    return prepare_training_set(X, y, method=f"logit_adjusted+{name}", params=params, learner_name="image", rng=rng)


def cell(ratio: float, seed: int, names: list[str], ddpm_steps: int, done: set[tuple[float, int, str]],
         path: Path | None) -> list[dict[str, Any]]:
    X, y, X_test, y_test = long_tail_split(seed, ratio)
    rows = []
    for name in [BASELINE, *names]:
        if (ratio, seed, name) in done:  # measured by an earlier run into the same --json
            continue
        started = time.perf_counter()
        ts = balanced(X, y, name, seed, ddpm_steps)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        got = scores(y_test, fit_predict("image", IMAGE_PARAMS, ts, X_test), y)
        fit_seconds = time.perf_counter() - started
        drawn = ts.info.get("synthetic_drawn", 0)
        batch = ts.info.get("synthetic")
        passed = (drawn - batch.rejected) / drawn if batch is not None and drawn else None
        rows.append({"ratio": ratio, "seed": seed, "name": name, "f1": got[0], "tail": got[2],
                     "seconds": ts.info.get("synthetic_seconds", seconds), "fit_seconds": fit_seconds, "pass": passed,
                     "added": int(ts.synthetic_mask.sum()), "skipped": ts.info.get("skipped"),
                     "fallback": (ts.info.get("kmeans_smote") or {}).get("fallback")})
        print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        if path is not None:  # each row as it finishes: a run cut short keeps what it measured
            with path.open("a") as fh:
                fh.write(json.dumps(rows[-1]) + "\n")
    return rows


def table(rows: list[dict[str, Any]]) -> None:
    rows = list({(r["ratio"], r["seed"], r["name"]): r for r in reversed(rows)}.values())  # first of repeats
    base = {(r["ratio"], r["seed"]): r for r in rows if r["name"] == BASELINE}
    print("\n| IR | method | seeds | macro-F1 | tail recall | gain macro-F1 (95 % CI) | gain tail recall (95 % CI) "
          "| wins (F1) | method s (median) | CNN fit s (median) | gate pass | added (median) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ratio in sorted({r["ratio"] for r in rows}):
        for name in [BASELINE, *SYNTHESIZERS, *ADDONS]:
            group = [r for r in rows if r["ratio"] == ratio and r["name"] == name and (ratio, r["seed"]) in base]
            if not group:
                continue
            f1 = [r["f1"] - base[(ratio, r["seed"])]["f1"] for r in group]
            tail = [r["tail"] - base[(ratio, r["seed"])]["tail"] for r in group]
            gains = ("—", "—", "—") if name == BASELINE else (
                t_interval(f1, signed=True), t_interval(tail, signed=True), f"{sum(g > 0 for g in f1)}/{len(f1)}")
            passes = [r["pass"] for r in group if r["pass"] is not None]
            gate = f"{100 * np.mean(passes):.0f} %" if passes else "—"
            print(f"| {ratio:.0f} | {name if name == BASELINE else '+ ' + name} | {len(group)} "
                  f"| {np.mean([r['f1'] for r in group]):.1f} | {np.mean([r['tail'] for r in group]):.1f} "
                  f"| {gains[0]} | {gains[1]} | {gains[2]} | {np.median([r['seconds'] for r in group]):.1f} "
                  f"| {np.median([r['fit_seconds'] for r in group]):.1f} "
                  f"| {gate} | {np.median([r['added'] for r in group]):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratios", default="10,50,100")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--methods", default="dcgan,ddpm,kmeans_smote,salt_pepper")
    parser.add_argument("--ddpm-steps", type=int, default=DDPM_PARAMS["train_steps"])
    parser.add_argument("--json", default="", help="append every cell's rows here (JSON lines) and tabulate them")
    parser.add_argument("--table-only", action="store_true", help="tabulate --json without running")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = Path(args.json) if args.json else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    done = set()
    if path is not None and path.exists():
        done = {(r["ratio"], r["seed"], r["name"]) for r in map(json.loads, path.read_text().splitlines())}
    if not args.table_only:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for ratio in [float(r) for r in args.ratios.split(",")]:
                rows += cell(ratio, seed, args.methods.split(","), args.ddpm_steps, done, path)
    if path is not None and path.exists():
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    table(rows)
    fallbacks = sum(1 for r in rows if r.get("fallback"))
    print(f"\n(kmeans_smote fell back to SMOTE in {fallbacks} cells) {machine_line()}")


if __name__ == "__main__":
    main()
