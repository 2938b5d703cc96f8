"""Where a webhook burst's drain goes, in process: acknowledge, apply, retrain (benchmarks/load.py's events).

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/drain_profile.py [--events 10000] [--pool 20000]
        [--postgres | --postgres-only] [--chunk 1000] [--profile accept|apply|examples|status|retrain]
        [--before REV]

For each database (SQLite with ``synchronous=FULL``; with ``--postgres`` also a throwaway PostgreSQL with
``fsync=on``) it builds the service without its workers, then times, one thread at a time:

- ``accept``: 200 webhooks written one at a time (p50/p99 of the durable write), then the rest of the inbox
  in transactions of 500 rows (what the service's group commit does under a burst);
- ``apply``: the inbox applied in steps of ``--chunk`` events, as the worker does after a burst
  (``apply_pending(max_events=chunk)`` with the worker's webhook check, until it has caught up), with the slowest
  step;
- ``examples``: one read of the labelled examples (``crud.labeled_examples``, what every retrain, cross-validation
  and status read starts with), best of 3;
- ``status``: one ``GET /projects/{id}`` body (``status.project_status``), best of 3: ``benchmarks/load.py`` polls
  it every 0.5 s while it waits for the drain, as a user's page does;
- ``retrain``: one retrain on every applied annotation, with its own split (examples, inputs, fit, rank, store).

``--pool N`` first stores N unlabelled tasks, as the /predict clients of ``benchmarks/load.py`` do (about 20 000 in
a 10k run), so the retrain fits and ranks a pool of that size. ``--profile X`` (repeatable) prints cProfile's 25
most expensive functions (cumulative) of that step. ``--before REV`` runs the same steps, in the same call, on git
revision REV's code (a ``git worktree`` put first on PYTHONPATH of a child process) before this checkout's, and
prints the ratios.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import PROJECT, WORDS, make_events  # noqa: E402
from tests.factories import TEXT_CONFIG  # noqa: E402

SINGLE_ACCEPTS = 200  # webhooks written one transaction each (the latency of a lone acknowledgement)
GROUP = 500  # rows per transaction for the rest (the group commit's batch under a burst)


def _step(name: str, profile: list[str], fn):  # type: ignore[no-untyped-def]
    if name not in profile:
        return fn()
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return result


def _best_of(n: int, name: str, profile: list[str], fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for k in range(n):
        began = time.perf_counter()
        _step(name if k == 0 else "", profile, fn)
        times.append(time.perf_counter() - began)
    return min(times)


def run(database_url: str, data_dir: Path, events: int, pool: int, chunk: int, profile: list[str]) -> dict[str, float]:
    from labelsieve.labelstudio.protocol import WebhookPayload
    from labelsieve.service.container import build_service
    from labelsieve.service.events import accept, apply_pending
    from labelsieve.service.status import project_status
    from labelsieve.settings import Settings
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    settings = Settings(data_dir=data_dir, database_url=database_url, torch_threads=1, label_studio_url=None,
                        label_studio_api_key=None, start_workers=False)
    service = build_service(settings)
    try:
        service.loop.setup_project(project_id=PROJECT, label_config=TEXT_CONFIG)
        rng = np.random.default_rng(1)
        words = WORDS["Positive"] + WORDS["Negative"]
        with session_scope(service.engine) as session:  # the /predict clients' tasks: the pool to rank
            crud.upsert_tasks(session=session, project_id=PROJECT, tasks=[
                {"id": 100_000 + i, "data": {"text": " ".join(rng.choice(words, 6))}} for i in range(pool)])
        payloads = [WebhookPayload.model_validate(event) for event in make_events(events)]
        latencies: list[float] = []

        def accept_all() -> None:
            for payload in payloads[:SINGLE_ACCEPTS]:
                began = time.perf_counter()
                accept(service.engine, payload)
                latencies.append(time.perf_counter() - began)
            rest = payloads[SINGLE_ACCEPTS:]
            for start in range(0, len(rest), GROUP):
                with session_scope(service.engine) as session:
                    for payload in rest[start:start + GROUP]:
                        crud.add_event(session=session, project_id=PROJECT, action=payload.action,
                                       payload=payload.model_dump(mode="json", exclude_none=True), flush=False)

        began = time.perf_counter()
        _step("accept", profile, accept_all)
        accept_s = time.perf_counter() - began
        steps: list[float] = []

        def verifier():  # type: ignore[no-untyped-def]
            """The worker's webhook check for one step (resolved per step since the drain3 branch)."""
            factory = getattr(service.worker, "verifier_factory", None)
            return factory(PROJECT) if factory is not None else service.worker.verifier

        def apply_all() -> int:
            changed = 0
            while True:
                step_began = time.perf_counter()
                applied = apply_pending(service.engine, PROJECT, max_events=chunk, verifier=verifier())
                steps.append(time.perf_counter() - step_began)
                changed += applied.changed
                if not applied.more:
                    return changed

        began = time.perf_counter()
        changed = _step("apply", profile, apply_all)
        apply_s = time.perf_counter() - began
        assert changed == events, changed

        def read_examples() -> None:
            with session_scope(service.engine) as session:
                assert len(crud.labeled_examples(session=session, project_id=PROJECT)) == events

        examples_s = _best_of(3, "examples", profile, read_examples)
        status_s = _best_of(3, "status", profile, lambda: project_status(service.engine, PROJECT))
        began = time.perf_counter()
        outcome = _step("retrain", profile, lambda: service.loop.retrain(PROJECT, force=True))
        retrain_s = time.perf_counter() - began
        assert outcome.status == "trained", outcome
        return {"accept p50 ms": float(np.percentile(latencies, 50) * 1000),
                "accept p99 ms": float(np.percentile(latencies, 99) * 1000), "accept s": accept_s,
                "apply s": apply_s, "apply/s": events / apply_s, "apply steps": len(steps),
                "slowest step s": max(steps), "examples s": examples_s, "status s": status_s, "retrain s": retrain_s,
                **{f"retrain {k}": v for k, v in outcome.timings.items()}}
    finally:
        service.stop()


def measure(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="labelsieve-drain-"))
    rows = {}
    if not args.postgres_only:
        rows["sqlite"] = run(f"sqlite:///{tmp / 'drain.sqlite3'}", tmp / "sqlite", args.events, args.pool,
                             args.chunk, args.profile)
    if args.postgres or args.postgres_only:
        from tests.harness.postgres import start_postgres

        pg = start_postgres(fsync=True)
        try:
            rows["postgres"] = run(pg.create_database(), tmp / "postgres", args.events, args.pool, args.chunk,
                                   args.profile)
        finally:
            pg.stop()
    return rows


def _child(args: argparse.Namespace, backend: Path | None, out: Path) -> dict[str, dict[str, float]]:
    """This script's steps in a child process, on ``backend``'s code when given (else this checkout's)."""
    argv = [sys.executable, __file__, "--events", str(args.events), "--pool", str(args.pool), "--chunk",
            str(args.chunk), "--json", str(out)]
    argv += ["--postgres"] if args.postgres else []
    argv += ["--postgres-only"] if args.postgres_only else []
    env = dict(os.environ, **({"PYTHONPATH": str(backend)} if backend else {}))
    subprocess.run(argv, env=env, check=True, cwd=ROOT)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=20_000, help="unlabelled tasks stored first (the /predict ones)")
    parser.add_argument("--chunk", type=int, default=1000, help="events per apply step (the worker's ROUND_EVENTS)")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--profile", action="append", default=[],
                        choices=["accept", "apply", "examples", "status", "retrain"])
    parser.add_argument("--before", metavar="REV", help="also run git revision REV's code first, in this call")
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        args.json.write_text(json.dumps(measure(args)))
        return
    print(f"{args.events} events, pool {args.pool}, load {os.getloadavg()[0]:.1f} at the start", flush=True)
    if not args.before:
        table = {"after": measure(args)}
    else:
        tmp = Path(tempfile.mkdtemp(prefix="labelsieve-drain-before-"))
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tmp / "code"), args.before],
                       check=True, capture_output=True)
        try:
            table = {f"before {args.before}": _child(args, tmp / "code" / "backend", tmp / "before.json")}
            print(f"load {os.getloadavg()[0]:.1f} between the runs", flush=True)
            table["after"] = _child(args, None, tmp / "after.json")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "code")],
                           capture_output=True)
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    for label, rows in table.items():
        for name, row in rows.items():
            print(f"{label} {name}:", "  ".join(f"{k} {v:.2f}" for k, v in row.items()))
    if args.before:
        before, after = table[f"before {args.before}"], table["after"]
        for name in after:
            print(f"ratio after/before {name}:", "  ".join(
                f"{k} {after[name][k] / before[name][k]:.2f}" for k in after[name]
                if k in before[name] and before[name][k] and k != "apply/s"))


if __name__ == "__main__":
    main()
