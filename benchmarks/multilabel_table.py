"""The Markdown table of a benchmarks/multilabel.py run: medians over seeds with intervals, paired against random.

    .venv/bin/python benchmarks/multilabel_table.py benchmarks/results/multilabel.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 0.95  # share of the full-data micro-F1


def _bootstrap_median(values: np.ndarray, rng: np.random.Generator, n: int = 2000) -> tuple[float, float]:
    draws = rng.choice(values, size=(n, len(values)), replace=True)
    medians = np.median(draws, axis=1)
    return float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


def _reach(run: dict[str, Any], target: float, sizes: list[int]) -> tuple[int | None, int | None]:
    for k, scores in enumerate(run["curve"]):
        if scores["micro_f1"] >= target:
            return sizes[k], run["units"][k]
    return None, None


def _fmt_reach(values: list[int | None], budget: int) -> str:
    reached = [v for v in values if v is not None]
    if len(reached) * 2 <= len(values):
        return f"> {budget} ({len(reached)}/{len(values)} seeds)"
    censored = [v if v is not None else budget + 1 for v in values]
    return f"{int(np.median(censored))} ({len(reached)}/{len(values)})"


def table(report: dict[str, Any]) -> str:
    args = report["args"]
    sizes = list(range(args["initial"], args["budget"] + 1, args["batch"]))
    if sizes[-1] != args["budget"]:
        sizes.append(args["budget"])
    full = np.array([f["micro_f1"] for f in report["full"]])
    rng = np.random.default_rng(0)
    results = report["results"]
    random_aulc = np.array([np.mean([c["micro_f1"] for c in run["curve"]]) for run in results["random"]])
    lines = [
        "| strategy | final micro-F1 | AULC micro-F1 | AULC − random (paired, 95% CI) | final macro-F1 | "
        "subset acc. | Hamming loss | tasks to 95% | labels to 95% |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        final = np.array([run["curve"][-1]["micro_f1"] for run in runs])
        aulc = np.array([np.mean([c["micro_f1"] for c in run["curve"]]) for run in runs])
        diff = aulc - random_aulc
        low, high = _bootstrap_median(diff, rng)
        reach = [_reach(run, TARGET * f, sizes) for run, f in zip(runs, full, strict=True)]
        lines.append(
            f"| {name} | {np.median(final):.3f} [{final.min():.3f}, {final.max():.3f}] "
            f"| {np.median(aulc):.3f} [{aulc.min():.3f}, {aulc.max():.3f}] "
            f"| {np.median(diff):+.4f} [{low:+.4f}, {high:+.4f}] "
            f"| {np.median([r['curve'][-1]['macro_f1'] for r in runs]):.3f} "
            f"| {np.median([r['curve'][-1]['subset_accuracy'] for r in runs]):.3f} "
            f"| {np.median([r['curve'][-1]['hamming_loss'] for r in runs]):.3f} "
            f"| {_fmt_reach([t for t, _ in reach], args['budget'])} "
            f"| {_fmt_reach([u for _, u in reach], int(max(r['units'][-1] for r in runs)))} |")
    lines.append("")
    lines.append(f"Full-data micro-F1 (same learner on the whole pool): median {np.median(full):.3f} "
                 f"[{full.min():.3f}, {full.max():.3f}]; 95% of it is the target of the last two columns "
                 "(median over seeds; a seed that never reaches it counts as budget + 1; '(k/n)' = seeds that reached "
                 "it).")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1]).read_text())))
