"""Scale benchmark for core-set k-center greedy and BADGE against scikit-activeml, small-text and modAL (issue 4).

Synthetic 512-d embeddings (a 100-component Gaussian mixture, float32), the first 100 rows labelled,
``--picks`` selected from the rest; BADGE gets 10-class probabilities ``softmax(x W)`` from a fixed
random ``W``. Every (method, n, repeat) runs in its own subprocess, single-threaded
(OMP/MKL/OpenBLAS/torch = 1 thread): labelsieve in ``.venv``, peers in ``.venv-bench`` under an
address-space cap and a timeout. Only the selection call is timed; peak RSS is the child's
high-water mark (inputs included; "data" is the mark before the timed call).

Effective bandwidth = bytes of the representation the method reads / seconds (a full scan of the
raw float32 pool per pick for peers; for labelsieve's pruned k-center the rows its passes actually
touched, and "read/pick" is that share of a full scan), against the single-thread copy bandwidth.

Run: ``nice -n 10 .venv/bin/python benchmarks/strategies_scale.py`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RunResult, copy_bandwidth, fmt_bytes, median, print_table, run_isolated, self_rss  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIM, N_CLASSES, N_LABELED = 512, 10, 100
# name: (interpreter venv, family, options)
METHODS: dict[str, tuple[str, str, dict]] = {
    "labelsieve CoreSet": (".venv", "coreset", {}),
    "labelsieve CoreSet noprune": (".venv", "coreset", {"prune": False}),
    "labelsieve CoreSet proj128": (".venv", "coreset", {"projection_dim": 128}),
    "labelsieve CoreSet sub10%": (".venv", "coreset", {"subsample": 0.1}),
    "labelsieve Badge": (".venv", "badge", {}),
    "labelsieve Badge proj128": (".venv", "badge", {"projection_dim": 128}),
    "skactiveml CoreSet": (".venv-bench", "coreset", {}),
    "small-text greedy_coreset": (".venv-bench", "coreset", {}),
    "skactiveml Badge": (".venv-bench", "badge", {}),
    "modAL ranked batch": (".venv-bench", "badge", {}),
}
REFERENCE = {"coreset": "labelsieve CoreSet", "badge": "labelsieve Badge"}


# ------------------------------------------------------------------ worker side (one run)
def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = (2.0 * rng.standard_normal((100, DIM))).astype(np.float32)
    weights = (3.0 * rng.standard_normal((DIM, N_CLASSES)) / np.sqrt(DIM)).astype(np.float32)
    x = np.empty((n, DIM), dtype=np.float32)
    probas = np.empty((n, N_CLASSES))
    for start in range(0, n, 65_536):
        stop = min(start + 65_536, n)
        block = centres[rng.integers(0, 100, stop - start)] + rng.standard_normal((stop - start, DIM), dtype=np.float32)
        x[start:stop] = block
        logits = (block @ weights).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probas[start:stop] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return x, probas


PRUNED: list = []


def run_labelsieve(family: str, options: dict, x: np.ndarray, probas: np.ndarray, picks: int, seed: int):
    import torch

    from labelsieve.strategies.badge import Badge
    from labelsieve.strategies.base import PoolContext
    from labelsieve.strategies.coreset import CoreSet

    torch.set_num_threads(1)
    import labelsieve.strategies.kcenter_bounds as prune

    created = prune.BoundedPool.__init__

    def record(self, *args, **kwargs):  # keep the pruned pools so the worker can report the rows they read
        created(self, *args, **kwargs)
        PRUNED.append(self)

    prune.BoundedPool.__init__ = record
    pool = x[N_LABELED:]
    ctx = PoolContext(pool=range(pool.shape[0]), learner=None, rng=np.random.default_rng(seed), pool_embeddings=pool,
                      labeled_embeddings_given=x[:N_LABELED], pool_probas=probas[N_LABELED:])
    strategy = CoreSet(device="cpu", **options) if family == "coreset" else Badge(device="cpu", **options)
    return lambda: strategy.select(ctx, picks)


def run_peer(method: str, x: np.ndarray, probas: np.ndarray, picks: int, seed: int):
    y = np.full(x.shape[0], np.nan)
    y[:N_LABELED] = np.arange(N_LABELED) % N_CLASSES
    if method == "skactiveml CoreSet":
        from skactiveml.pool import CoreSet

        return lambda: CoreSet(random_state=seed).query(x, y, batch_size=picks)
    if method == "skactiveml Badge":
        from skactiveml.base import SkactivemlClassifier
        from skactiveml.pool import Badge

        class FixedProbas(SkactivemlClassifier):  # the model's probabilities, as labelsieve gets them
            def fit(self, X, y, sample_weight=None):
                return self

            def predict_proba(self, X):
                return probas[N_LABELED:] if X.shape[0] == x.shape[0] - N_LABELED else probas[: X.shape[0]]

        clf = FixedProbas(classes=np.arange(N_CLASSES), missing_label=np.nan)
        return lambda: Badge(random_state=seed).query(x, y, clf, fit_clf=False, batch_size=picks)
    if method == "small-text greedy_coreset":
        from small_text.query_strategies.coresets import greedy_coreset

        unlabeled, labeled = np.arange(N_LABELED, x.shape[0]), np.arange(N_LABELED)
        return lambda: greedy_coreset(x, unlabeled, labeled, picks, distance_metric="euclidean")
    if method == "modAL ranked batch":
        from modAL.batch import uncertainty_batch_sampling
        from modAL.models import ActiveLearner
        from sklearn.base import BaseEstimator, ClassifierMixin

        class FixedProbas(ClassifierMixin, BaseEstimator):
            def fit(self, X, y):
                self.classes_ = np.arange(N_CLASSES)
                return self

            def predict_proba(self, X):
                return probas[N_LABELED:] if X.shape[0] == x.shape[0] - N_LABELED else probas[: X.shape[0]]

        learner = ActiveLearner(estimator=FixedProbas(), X_training=x[:N_LABELED], y_training=y[:N_LABELED].astype(int))
        return lambda: uncertainty_batch_sampling(learner, x[N_LABELED:], n_instances=picks)
    raise ValueError(method)


def covering_radius(x: np.ndarray, chosen: np.ndarray) -> float:
    """Largest distance from any pool row to its nearest labelled-or-picked row (original 512-d space)."""
    centres = np.vstack([x[:N_LABELED], x[N_LABELED:][chosen]]).astype(np.float32)
    centres_sq = (centres.astype(np.float64) ** 2).sum(axis=1)
    worst = 0.0
    for start in range(0, x.shape[0], 8192):
        block = x[start:start + 8192]
        sq = (block.astype(np.float64) ** 2).sum(axis=1)[:, None] - 2.0 * (block @ centres.T) + centres_sq[None, :]
        worst = max(worst, float(sq.min(axis=1).max()))
    return float(np.sqrt(max(worst, 0.0)))


def worker(method: str, n: int, picks: int, seed: int) -> None:
    venv, family, options = METHODS[method]
    x, probas = make_data(n, seed)
    call = run_labelsieve(family, options, x, probas, picks, seed) if venv == ".venv" else run_peer(
        method, x, probas, picks, seed)
    data_rss = self_rss()
    start = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - start
    chosen = np.asarray(out[0] if isinstance(out, tuple) else out).ravel().astype(np.int64)
    if method.startswith("skactiveml"):  # indices into X (labelled rows first), not into the pool
        chosen = chosen - N_LABELED
    radius = covering_radius(x, chosen) if seed == 0 and family == "coreset" else None
    rows_read = sum(p.rows_read for p in PRUNED) if PRUNED else None
    print(json.dumps({"seconds": seconds, "data_rss": data_rss, "n_selected": int(np.unique(chosen).size),
                      "radius": radius, "rows_read": rows_read}))


# ------------------------------------------------------------------ driver side
def scanned_bytes(method: str, n: int) -> int:
    """Bytes of the representation scanned once per pick."""
    return int(pool_rows(method, n) * row_bytes(method))


def pool_rows(method: str, n: int) -> float:
    return (n - N_LABELED) * METHODS[method][2].get("subsample", 1.0)


def row_bytes(method: str) -> int:
    _, family, options = METHODS[method]
    extra = N_CLASSES * 4 if family == "badge" and method.startswith("labelsieve") else 0  # the a = p - onehot vectors
    return options.get("projection_dim", DIM) * 4 + extra


def bytes_read(method: str, n: int, run: RunResult, picks: int) -> float:
    """Bytes the picks read: the rows the pruned passes touched when reported, else a full scan per pick."""
    rows = (run.payload or {}).get("rows_read")
    return rows * row_bytes(method) if rows is not None else scanned_bytes(method, n) * picks


def radius_ratio(runs: list[RunResult], ref: list[RunResult]) -> str:
    """Covering radius of the seed-0 run over the exact labelsieve CoreSet's (coreset family only)."""
    mine = runs[0].payload.get("radius") if runs and runs[0].payload else None
    exact = ref[0].payload.get("radius") if ref and ref[0].payload else None
    return f"{mine / exact:.3f}" if mine and exact else "-"


def cell(results: list[RunResult], timeout: float) -> str:
    bad = [r for r in results if r.status != "ok"]
    if bad:
        return {"timeout": f"timeout (>{timeout:.0f}s)", "OOM": "OOM"}.get(bad[0].status, f"error: {bad[0].detail}")
    return f"{median([r.seconds for r in results]):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--picks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--peers", default="skactiveml,small-text,modAL", help="peer libraries ('' = none)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per peer run")
    parser.add_argument("--large-timeout", type=float, default=None, help="seconds per peer run at n >= 1M")
    parser.add_argument("--once", default="", help="comma-separated methods that run once (marked '1 run')")
    parser.add_argument("--probe-timeout", type=float, default=30.0,
                        help="a peer that failed at a smaller n gets one run with this timeout")
    parser.add_argument("--mem-cap-gib", type=float, default=12.0, help="address-space cap for peer runs")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.n, args.picks, args.seed)
        return

    peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    methods = [m for m in args.methods.split(",") if m in METHODS]
    methods = [m for m in methods if METHODS[m][0] == ".venv" or m.split()[0] in peers]
    sizes = [int(s) for s in args.sizes.split(",")]
    copy_bw = copy_bandwidth()
    print(f"single-thread numpy copy bandwidth: {copy_bw / 1e9:.1f} GB/s (read+write)")
    results: dict[tuple[str, int], list[RunResult]] = {}
    timeouts: dict[tuple[str, int], float] = {}
    for n in sizes:
        for method in methods:
            venv = METHODS[method][0]
            peer = venv != ".venv"
            timeout = args.large_timeout if (peer and n >= 1_000_000 and args.large_timeout) else args.timeout
            failed_before = any(r.status != "ok" for (m, _), rs in results.items() if m == method for r in rs)
            if peer and failed_before:
                timeout = min(timeout, args.probe_timeout)
            timeouts[method, n] = timeout if peer else 3600.0
            runs: list[RunResult] = []
            once = {m.strip() for m in args.once.split(",")}
            for repeat in range(1 if method in once else args.repeats):
                argv = [str(ROOT / venv / "bin" / "python"), __file__, "--worker", method, "--n", str(n),
                        "--picks", str(args.picks), "--seed", str(repeat)]
                run = run_isolated(argv, timeouts[method, n], int(args.mem_cap_gib * 2**30) if peer else None)
                runs.append(run)
                shown = f"{run.seconds:.2f}s" if run.status == "ok" else f"{run.status} {run.detail}"
                print(f"  {method:28s} n={n:>8d} run {repeat}: {shown} peak {fmt_bytes(run.peak_rss)}", flush=True)
                if run.status != "ok":
                    break  # a timeout or OOM is not retried
            results[method, n] = runs

    header = ["method", "n", "median s", "peak RSS", "inputs RSS", "read/pick", "eff. GB/s", "% of copy bw",
              "x labelsieve", "radius/exact"]
    rows = []
    for n in sizes:
        for method in methods:
            runs = results[method, n]
            ok = all(r.status == "ok" for r in runs)
            secs = median([r.seconds for r in runs]) if ok else None
            ref = results.get((REFERENCE[METHODS[method][1]], n), [])
            ref_ok = ref and all(r.status == "ok" for r in ref)
            ref_secs = median([r.seconds for r in ref]) if ref_ok else None
            if secs is not None:
                read = median([bytes_read(method, n, r, args.picks) for r in runs])
                bw = median([bytes_read(method, n, r, args.picks) / r.seconds for r in runs])
                share = read / (scanned_bytes(method, n) * args.picks)
                bw_cells = [f"{share:.3f}", f"{bw / 1e9:.1f}", f"{100 * bw / copy_bw:.0f}%"]
                ratio = f"{secs / ref_secs:.1f}" if ref_secs else "-"
            else:
                bw_cells = ["-", "-", "-"]
                ratio = f">{timeouts[method, n] / ref_secs:.0f}" if ref_secs and runs[-1].status == "timeout" else "-"
            peak = max((r.peak_rss or 0) for r in runs)
            data = max((r.data_rss or 0) for r in runs) or None
            shown = cell(runs, timeouts[method, n]) + (" (1 run)" if len(runs) == 1 and args.repeats > 1 else "")
            rows.append([method, f"{n:,}", shown, fmt_bytes(peak), fmt_bytes(data),
                         *bw_cells, ratio, radius_ratio(runs, ref)])
    print_table(f"select {args.picks} of n (512-d float32, {N_LABELED} labelled), medians of {args.repeats} runs, "
                f"1 thread; copy bandwidth {copy_bw / 1e9:.1f} GB/s", header, rows)


if __name__ == "__main__":
    main()
