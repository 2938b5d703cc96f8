"""Wall time of ``labelsieve.quality.audit.audit`` at 10k and 100k items (64-d features: labelled 10%, pool 70%,
test 20%, with 1% of the test items copied from the pool), single thread.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/audit_cost.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labelsieve.quality.audit import audit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print("| items | seconds | audited sample | cross-set query / index | leaked found / planted |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 3, size=(20, 64))
        y = rng.integers(0, 20, n)
        X = centres[y] + rng.normal(0, 1, size=(n, 64))
        sets = np.array(["labelled"] * (n // 10) + ["pool"] * (7 * n // 10) + ["test"] * (n - 8 * n // 10))
        test = np.flatnonzero(sets == "test")
        planted = test[: len(test) // 100]
        X[planted] = X[np.flatnonzero(sets == "pool")[: len(planted)]]
        labels = [str(v) if s != "pool" else None for v, s in zip(y, sets, strict=True)]
        started = time.perf_counter()
        report = audit(X, sets=sets.tolist(), labels=labels, ids=list(range(n)))
        seconds = time.perf_counter() - started
        cross = next(c for c in report["cross_set"] if c["query"] == "test")
        print(f"| {n} | {seconds:.1f} | {report['sampled']['audited']} | {cross['n_query']} / {cross['n_index']} | "
              f"{report['leakage']['test_items']} / {len(planted)} |", flush=True)


if __name__ == "__main__":
    main()
