"""Where a boxes round's memory goes: peak and retained RSS per phase of ``ActiveLearningLoop.retrain``, and the
largest Python/numpy allocations still held (tracemalloc) after the ranking pass and after the round.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/boxes_memory.py [--pool 2000] [--trace]

The round of ``benchmarks/boxes_round.py`` (one cold round, 50 labelled, an 8-step fit, stop set 500) with each
phase wrapped: before it the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``), after it the phase's own
peak RSS (``VmHWM``), the RSS it leaves (``VmRSS``) and, with ``--trace``, tracemalloc's peak over the phase (Python
and numpy allocations; torch's CPU tensors are not traced, so a peak in RSS but not in tracemalloc is torch's or the
allocator's). Phases: loading the labelled and pool inputs, the fit, the detector pass over the pool
(``region_outputs``), the strategy (``full_ranking``), building the ranking (``build_ranking``), saving it, the stop
set. ``--per-batch N`` prints the RSS every N inference batches; ``--trim`` calls glibc's ``malloc_trim(0)`` after
every batch (the detector's pass now does so itself: labelsieve/heap.py). Linux only. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import boxes_round  # noqa: E402

from labelsieve.detection.learner import DetectorLearner  # noqa: E402
from labelsieve.service import ranking, training  # noqa: E402


def status(field: str) -> int:
    """``field`` of /proc/self/status in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    raise KeyError(field)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def wrap(owner: Any, name: str, phase: str, rows: list[dict], snapshot: bool = False) -> None:
    original = getattr(owner, name)

    def measured(*args: Any, **kwargs: Any) -> Any:
        before = status("VmRSS")
        reset_peak()
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            row = {"phase": phase, "s": round(time.perf_counter() - started, 2), "rss_before_mib": before,
                   "peak_rss_mib": status("VmHWM"), "rss_after_mib": status("VmRSS")}
            if tracemalloc.is_tracing():
                current, peak = tracemalloc.get_traced_memory()
                row.update(traced_now_mib=round(current / 2**20), traced_peak_mib=round(peak / 2**20))
                if snapshot:
                    top = tracemalloc.take_snapshot().statistics("lineno")[:6]
                    row["top_held"] = [f"{s.size / 2**20:.1f} MiB {s.count} blocks {s.traceback[0]}" for s in top]
            rows.append(row)
            print(json.dumps(row), flush=True)

    setattr(owner, name, measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--trace", action="store_true", help="tracemalloc too (slower)")
    parser.add_argument("--per-batch", type=int, default=0, help="RSS every N inference batches of the detector")
    parser.add_argument("--trim", action="store_true",
                        help="glibc malloc_trim(0) after every inference batch (is the growth freed heap?)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: list[dict] = []
    wrap(training, "load_tasks", "load labelled inputs", rows)
    wrap(training, "load_pool", "load pool inputs", rows)
    wrap(DetectorLearner, "fit", "fit", rows)
    wrap(ranking, "region_outputs", "detector pass over the pool", rows, snapshot=True)
    wrap(ranking, "full_ranking", "strategy", rows)
    wrap(ranking, "build_ranking", "build ranking", rows)
    wrap(training, "save_ranking", "save ranking", rows)
    wrap(training, "stop_set_record", "stop set", rows, snapshot=True)
    if args.per_batch or args.trim:
        run, batches = DetectorLearner._run, [0]
        libc = ctypes.CDLL("libc.so.6")

        def counted(self: DetectorLearner, images: list, *more: Any) -> Any:
            out = run(self, images, *more)
            batches[0] += 1
            if args.trim:
                libc.malloc_trim(0)
            if args.per_batch and batches[0] % args.per_batch == 0:
                print(json.dumps({"batch": batches[0], "rss_mib": status("VmRSS"), "peak_rss_mib": status("VmHWM")}),
                      flush=True)
            return out

        DetectorLearner._run = counted  # type: ignore[method-assign]
    if args.trace:
        tracemalloc.start(1)
    round_args = argparse.Namespace(pool=args.pool, labelled=50, epochs=1, min_steps=8, stop_set=500, rounds=1,
                                    strategy=None)
    import tempfile
    with tempfile.TemporaryDirectory() as work:
        result = boxes_round.rounds(round_args, Path(work))
        print(json.dumps({"pool": args.pool, "trace": args.trace, "round": result, "phases": rows}), flush=True)


if __name__ == "__main__":
    main()
