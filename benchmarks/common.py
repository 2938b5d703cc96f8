"""Shared helpers for the benchmark scripts: isolated timed runs, bandwidth, medians, tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass
class RunResult:
    """One run in its own subprocess: ``status`` is "ok", "OOM", "timeout" or "error"."""

    status: str
    seconds: float | None = None
    peak_rss: int | None = None  # bytes, the child's high-water mark
    data_rss: int | None = None  # bytes, high-water mark before the timed call (inputs only)
    payload: dict | None = None
    detail: str = ""


def run_isolated(argv: Sequence[str], timeout_s: float, mem_cap_bytes: int | None = None) -> RunResult:
    """Run ``argv`` in a fresh process group; the child prints one JSON line with ``seconds`` last.

    Peak memory is the child's own ``ru_maxrss`` from ``wait4`` (not shared with other runs).
    """

    def limit() -> None:
        os.setsid()
        if mem_cap_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (mem_cap_bytes, mem_cap_bytes))

    env = {**os.environ, **SINGLE_THREAD_ENV}
    proc = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit, env=env
    )
    deadline = time.monotonic() + timeout_s
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            timed_out = True
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.communicate()
    peak = usage.ru_maxrss * 1024
    if timed_out:
        return RunResult("timeout", peak_rss=peak)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        oom = "MemoryError" in err or "Unable to allocate" in err or "out of memory" in err.lower()
        tail = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
        return RunResult("OOM" if oom or proc.returncode == -9 else "error", peak_rss=peak, detail=tail)
    payload = json.loads(lines[-1])
    return RunResult("ok", payload["seconds"], peak, payload.get("data_rss"), payload)


def self_rss() -> int:
    """This process's RSS high-water mark in bytes (for a child to report its input-only baseline)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def copy_bandwidth(nbytes: int = 512 * 2**20, repeats: int = 5) -> float:
    """Single-thread ``numpy`` copy bandwidth in bytes/s, STREAM convention (read + write = 2 x size)."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * nbytes / best


def t_interval(values: Sequence[float], *, signed: bool = False) -> str:
    """Mean with its 95 % t-interval over the values (seeds), one decimal (``signed``: with a sign, for gains)."""
    a = np.asarray(values, dtype=float)
    f = "+.1f" if signed else ".1f"
    if len(a) < 2:
        return f"{a.mean():{f}}"
    from scipy import stats  # only the interval needs scipy

    half = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    return f"{a.mean():{f}} [{a.mean() - half:{f}}, {a.mean() + half:{f}}]"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def machine_line() -> str:
    """``host: N CPUs, load average a/b/c at the end`` for a benchmark's footer."""
    load = os.getloadavg()
    return (f"{platform.node()}: {os.cpu_count()} CPUs, "
            f"load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} at the end")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A rich table when rich is installed, else aligned plain text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
        print(title)
        for row in (header, *rows):
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)))
        return
    table = Table(title=title)
    for name in header:
        table.add_column(name, justify="left" if name in ("method", "status") else "right")
    for row in rows:
        table.add_row(*[str(c) for c in row])
    Console(width=200).print(table)
