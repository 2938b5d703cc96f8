"""Where a webhook burst's drain goes, in process: acknowledge, apply, retrain (benchmarks/load.py's events).

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/drain_profile.py [--events 10000] [--postgres]
        [--profile apply|accept|retrain]

For each database (SQLite with ``synchronous=FULL``; with ``--postgres`` also a throwaway PostgreSQL with
``fsync=on``) it builds the service without its workers, then times, one thread at a time:
``accept`` (the webhook's durable write; p50/p99 per event), ``apply_pending`` of the whole inbox (events/s),
and one retrain on every applied annotation (with its own split: inputs, fit, rank, store). ``--profile X``
prints cProfile's 25 most expensive functions (cumulative) of that step.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import PROJECT, make_events  # noqa: E402
from tests.factories import TEXT_CONFIG  # noqa: E402


def _step(name: str, profile: str | None, fn):  # type: ignore[no-untyped-def]
    if profile != name:
        return fn()
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return result


def run(database_url: str, data_dir: Path, events: int, profile: str | None) -> dict[str, float]:
    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service.container import build_service
    from labelsieve.service.events import accept, apply_pending
    from labelsieve.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, torch_threads=1, label_studio_url=None,
                        label_studio_api_key=None, start_workers=False)
    service = build_service(settings)
    try:
        service.loop.setup_project(project_id=PROJECT, label_config=TEXT_CONFIG)
        payloads = [WebhookPayload.model_validate(event) for event in make_events(events)]
        latencies: list[float] = []

        def accept_all() -> None:
            for payload in payloads:
                began = time.perf_counter()
                accept(service.engine, payload)
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        _step("accept", profile, accept_all)
        accept_s = time.perf_counter() - began
        began = time.perf_counter()
        applied = _step("apply", profile, lambda: apply_pending(service.engine, PROJECT))
        apply_s = time.perf_counter() - began
        assert applied.changed == events, applied
        began = time.perf_counter()
        outcome = _step("retrain", profile, lambda: service.loop.retrain(PROJECT, force=True))
        retrain_s = time.perf_counter() - began
        assert outcome.status == "trained", outcome
        return {"accept p50 ms": float(np.percentile(latencies, 50) * 1000),
                "accept p99 ms": float(np.percentile(latencies, 99) * 1000), "accept/s": events / accept_s,
                "apply/s": events / apply_s, "apply s": apply_s, "retrain s": retrain_s,
                **{f"retrain {k}": v for k, v in outcome.timings.items()}}
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", choices=["accept", "apply", "retrain"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelsieve-drain-"))
    rows = {"sqlite": run(f"sqlite:///{tmp / 'drain.sqlite3'}", tmp / "sqlite", args.events, args.profile)}
    if args.postgres:
        from tests.harness.postgres import start_postgres

        pg = start_postgres(fsync=True)
        try:
            rows["postgres"] = run(pg.create_database(), tmp / "postgres", args.events, args.profile)
        finally:
            pg.stop()
    print(f"{args.events} events, load {os.getloadavg()[0]:.1f}")
    for name, row in rows.items():
        print(name, "  ".join(f"{k} {v:.1f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
