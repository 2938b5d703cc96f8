"""Tables of ``benchmarks/encoders.py curves`` runs: per set, each loop's accuracy at 20/50/100/300 labels, its area
under the learning curve and the labels it needs to reach a fixed absolute accuracy, as the median over seeds with
the seeds' range ``[min, max]``; then one line per set and loop family across sets.

    .venv/bin/python benchmarks/encoders_table.py runs/encoders-*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINTS = (20, 50, 100, 300)
#: the fixed absolute accuracy each set's "labels to" column asks for (about what the best loop reaches at 100-150
#: labels, so the column separates the loops)
TARGETS = {"animal-shapes": (0.7, 0.8), "textures": (0.55, 0.95), "lfw-faces": (0.95, 0.98), "mnist-5k": (0.8, 0.9),
           "digits": (0.85, 0.95)}


def _cell(values: list[float], fmt: str = "{:.3f}") -> str:
    if not values:
        return "-"
    low, mid, high = np.min(values), np.median(values), np.max(values)
    return f"{fmt.format(mid)} [{fmt.format(low)}, {fmt.format(high)}]"


def _reach(values: list[float], budget: int) -> str:
    if not values:
        return "-"
    mid = float(np.median(values))
    reached = [v for v in values if np.isfinite(v)]
    bounds = f"[{min(reached):.0f}, {max(values):.0f}]" if reached else ""
    if np.isfinite(max(values)):
        return f"{mid:.0f} {bounds}"
    bounds = f"[{min(reached):.0f}, >{budget}]" if reached else ""
    return (f"{mid:.0f} {bounds}" if np.isfinite(mid) else f">{budget} {bounds}").strip()


def loop_stats(curves: list[list[list[float]]], budget: int, targets: tuple[float, ...]) -> dict[str, Any]:
    """Per-seed accuracies at the checkpoints (interpolated between rounds; none past the budget), AULC and
    labels to each target (inf: never within the budget)."""
    at = {n: [float(np.interp(n, *zip(*c, strict=True))) for c in curves] if n <= budget else [] for n in CHECKPOINTS}
    aulc = [float(np.mean([a for _, a in c])) for c in curves]
    reach = {t: [float(next((n for n, a in c if a >= t), np.inf)) for c in curves] for t in targets}
    return {"at": at, "aulc": aulc, "reach": reach}


def print_curves(result: dict[str, Any], targets: list[float] | None = None) -> None:
    chosen = tuple(targets) if targets else TARGETS.get(result["set"], (0.8,))
    print(f"\n### {result['set']}: pool {result['pool']}, balanced test set {result['test']}, {result['classes']} "
          f"classes, {result['seeds']} seeds, batches of {result['batch']} to {result['budget']} labels, encoder "
          f"{result['encoder']}\n")
    print("median over seeds [min, max]; accuracy at 50 labels interpolated between the 40- and 60-label rounds\n")
    print("| loop | " + " | ".join(f"{n} labels" for n in CHECKPOINTS) + " | AULC | "
          + " | ".join(f"labels to {t:.2f}" for t in chosen) + " |")
    print("|---|" + "---|" * (len(CHECKPOINTS) + 1 + len(chosen)))
    for key, seed_curves in result["runs"].items():
        stats = loop_stats(seed_curves, result["budget"], chosen)
        print(f"| {key} | " + " | ".join(_cell(stats["at"][n]) for n in CHECKPOINTS) + f" | {_cell(stats['aulc'])} | "
              + " | ".join(_reach(stats["reach"][t], result["budget"]) for t in chosen) + " |")


def print_summary(results: list[dict[str, Any]]) -> None:
    """One row per loop, one column per set: median AULC and median accuracy at 100 labels."""
    keys = list(dict.fromkeys(k for r in results for k in r["runs"]))
    print("\n### Across sets: median AULC (accuracy at 100 labels)\n")
    print("| loop | " + " | ".join(r["set"] for r in results) + " |\n|---|" + "---|" * len(results))
    for key in keys:
        cells = []
        for r in results:
            if key not in r["runs"]:
                cells.append("-")
                continue
            stats = loop_stats(r["runs"][key], r["budget"], ())
            cells.append(f"{np.median(stats['aulc']):.3f} ({np.median(stats['at'][100]):.3f})")
        print(f"| {key} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    results = [json.loads(Path(f).read_text()) for f in args.files]
    for result in results:
        print_curves(result)
    print_summary(results)
    print(f"\n{results[-1]['machine']}")


if __name__ == "__main__":
    main()
