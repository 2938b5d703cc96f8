"""Load on loopback: bursts of webhook events from concurrent clients plus concurrent /predict.

    nice .venv/bin/python benchmarks/load.py [--events 10000] [--clients 8] [--burst 500] [--postgres]
        [--before REV] [--durability]

``--before REV`` also runs the code of git revision REV (checked out with ``git worktree`` into a temp
dir and put first on PYTHONPATH for the server process: the real old code, not a flag in the new one)
on the same load, so one run prints before and after. ``--durability`` adds runs of the new code with
the commit durability lowered (SQLite ``synchronous=NORMAL``; PostgreSQL ``synchronous_commit=off``):
the cost of durable acknowledgements. PostgreSQL runs on a server with ``fsync=on`` (as deployed).

Starts `labelsieve serve` in a subprocess on 127.0.0.1 (stopped by its PID) on SQLite, and with
``--postgres`` also on a throwaway PostgreSQL (tests/harness/postgres.py). A text project (TF-IDF
learner: cheap retrains) gets ``--events`` ANNOTATION_CREATED webhooks, each with its own annotation
id, sent in bursts of ``--burst`` by ``--clients`` threads, while ``--predictors`` threads call
/predict with 20 tasks each. After the inbox drains it counts what the database really holds.

Columns: sent, acknowledged (HTTP 200 "queued"), stored (annotation rows), lost (acknowledged but
not stored), duplicated (inbox rows beyond one per sent webhook plus annotation rows beyond one per id),
retrains (ready model versions), p50/p99 of the webhook ack and of /predict, send time, time to drain
(first webhook sent to inbox empty and every annotation trained on), the part of it after the last
acknowledgement, applied events/s (events / time to drain).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factories import TEXT_CONFIG, annotation_event, ls_task, predict_payload, setup_payload  # noqa: E402
from tests.reliability.server import ServerProcess, db_counts  # noqa: E402

PROJECT = 42
WORDS = {"Positive": "good great fine lovely superb nice happy bright".split(),
         "Negative": "bad awful poor dull sad grim ugly broken".split()}
FILLER = "the a of and to in is it was this that with for on as at by".split()


def make_events(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    events = []
    for i in range(1, n + 1):
        label = "Positive" if rng.random() < 0.5 else "Negative"
        words = list(rng.choice(WORDS[label], size=3)) + list(rng.choice(FILLER, size=5))
        rng.shuffle(words)
        task = ls_task(i, {"text": " ".join(words)}, PROJECT)
        events.append(annotation_event("ANNOTATION_CREATED", annotation_id=i, task=task, project_id=PROJECT,
                                       config=TEXT_CONFIG, from_name="sentiment", to_name="text", choice=label))
    return events


@dataclass
class LoadResult:
    database: str
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    load_before: float = 0.0
    retrains: int = 0
    predict_calls: int = 0
    predict_errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    drained: bool = False
    send_seconds: float = 0.0
    applied_seconds: float = float("nan")  # first webhook sent until the inbox was seen empty after the send
    wall_seconds: float = 0.0
    ack_latencies: list[float] = field(default_factory=list)
    predict_latencies: list[float] = field(default_factory=list)

    def pct(self, values: list[float], q: float) -> float:
        return float(np.percentile(values, q) * 1000) if values else float("nan")


def _send(url: str, events: list[dict], burst: int, pause: float, result: LoadResult, acked: set[int],
          lock: threading.Lock) -> None:
    with httpx.Client(base_url=url, timeout=30.0) as client:
        for start in range(0, len(events), burst):
            for event in events[start:start + burst]:
                began = time.perf_counter()
                try:
                    response = client.post("/webhook", json=event)
                    ok = response.status_code == 200 and response.json().get("status") == "queued"
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - began
                with lock:
                    result.sent += 1
                    result.ack_latencies.append(elapsed)
                    if ok:
                        result.acknowledged += 1
                        acked.add(int(event["annotation"]["id"]))
            time.sleep(pause)


def _predict(url: str, stop: threading.Event, result: LoadResult, lock: threading.Lock, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=url, timeout=60.0) as client:
        while not stop.is_set():
            ids = rng.integers(100_000, 200_000, size=20)
            tasks = [ls_task(int(i), {"text": " ".join(rng.choice(WORDS["Positive"] + FILLER, 6))}, PROJECT)
                     for i in ids]
            began = time.perf_counter()
            try:
                response = client.post("/predict", json=predict_payload(PROJECT, TEXT_CONFIG, tasks))
                ok = response.status_code == 200 and len(response.json()["results"]) == len(tasks)
                why = "" if ok else f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok, why = False, f"{type(exc).__name__}: {exc}"
            with lock:
                result.predict_calls += 1
                result.predict_latencies.append(time.perf_counter() - began)
                result.predict_errors += 0 if ok else 1
                if why and len(result.error_samples) < 5:
                    result.error_samples.append(why)


def _wait_drained(url: str, timeout: float) -> tuple[bool, float]:
    """``ServerProcess.wait_drained`` (inbox empty, every annotation trained on: polled every 0.5 s), which also
    returns when the inbox was first seen empty (the apply's end; the retrain follows)."""
    deadline = time.monotonic() + timeout
    applied_at = float("nan")
    while time.monotonic() < deadline:
        try:
            queue = httpx.get(f"{url}/health", timeout=10).json()["queue_length"]
            if queue == 0 and applied_at != applied_at:
                applied_at = time.perf_counter()
            status = httpx.get(f"{url}/projects/{PROJECT}", timeout=10).json()
            if queue == 0 and status["annotations_since_train"] == 0:
                return True, applied_at
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False, applied_at


def run_load(database_url: str, data_dir: Path, *, label: str, events: int = 10_000, clients: int = 8,
             burst: int = 500, pause: float = 0.2, predictors: int = 2, drain_timeout: float = 900.0,
             env: dict[str, str] | None = None) -> LoadResult:
    """Run one load round against a fresh server (``env``: extra environment for it); the server is
    stopped before this returns."""
    result = LoadResult(database=label, load_before=os.getloadavg()[0])
    server = ServerProcess(data_dir, database_url, LABELSIEVE_DEBOUNCE_SECONDS="1.0", **(env or {})).start()
    try:
        with server.client() as client:
            assert client.post("/setup", json=setup_payload(PROJECT, TEXT_CONFIG)).status_code == 200
        all_events = make_events(events)
        shares = [all_events[k::clients] for k in range(clients)]
        acked: set[int] = set()
        lock, stop = threading.Lock(), threading.Event()
        began = time.perf_counter()
        senders = [threading.Thread(target=_send, args=(server.url, share, burst // clients or 1, pause, result,
                                                        acked, lock)) for share in shares]
        predictors_ = [threading.Thread(target=_predict, args=(server.url, stop, result, lock, k))
                       for k in range(predictors)]
        for thread in senders + predictors_:
            thread.start()
        for thread in senders:
            thread.join()
        result.send_seconds = time.perf_counter() - began
        stop.set()
        for thread in predictors_:
            thread.join()
        result.drained, applied_at = _wait_drained(server.url, drain_timeout)
        result.wall_seconds = time.perf_counter() - began
        result.applied_seconds = applied_at - began
        counts = db_counts(database_url, PROJECT)
        result.stored = counts["annotations"]
        result.lost = len(acked - counts["annotation_ids"])
        result.duplicated = (max(0, counts["events"] - result.sent)
                             + counts["annotations"] - len(counts["annotation_ids"]))
        result.retrains = counts["ready_versions"]
    finally:
        server.stop()
    print(f"{label}: load {result.load_before:.1f} acked {result.acknowledged}/{result.sent} lost {result.lost} "
          f"retrains {result.retrains} ack p50/p99 {result.pct(result.ack_latencies, 50):.0f}/"
          f"{result.pct(result.ack_latencies, 99):.0f} ms send {result.send_seconds:.1f} s drain "
          f"{result.wall_seconds:.1f} s{'' if result.drained else ' (not drained)'} (inbox empty at "
          f"{result.applied_seconds:.1f} s)", flush=True)
    return result


def print_table(results: list[LoadResult], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("run", "load", "sent", "acked", "stored", "lost", "dup", "retrains", "ack p50 ms", "ack p99 ms",
                   "predict calls", "predict p99 ms", "send s", "drain s", "after last ack s",
                   "of which applying s", "applied/s"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(r.database, f"{r.load_before:.1f}", str(r.sent), str(r.acknowledged), str(r.stored),
                      str(r.lost), str(r.duplicated), str(r.retrains),
                      f"{r.pct(r.ack_latencies, 50):.1f}", f"{r.pct(r.ack_latencies, 99):.1f}",
                      f"{r.predict_calls} ({r.predict_errors} failed)", f"{r.pct(r.predict_latencies, 99):.1f}",
                      f"{r.send_seconds:.1f}", f"{r.wall_seconds:.1f}" if r.drained else "not drained",
                      f"{r.wall_seconds - r.send_seconds:.1f}" if r.drained else "-",
                      f"{r.applied_seconds - r.send_seconds:.1f}",
                      f"{r.sent / r.wall_seconds:.0f}" if r.drained else "-")
    Console(width=220).print(table)
    for r in results:
        for sample in r.error_samples:
            print(f"{r.database} /predict failure: {sample}")


def checkout(rev: str, into: Path) -> dict[str, str]:
    """The environment that makes a server process run the code of git revision ``rev``."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(into), rev], check=True,
                   capture_output=True)
    return {"PYTHONPATH": str(into / "backend")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--predictors", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="also run on a throwaway PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="run on PostgreSQL only")
    parser.add_argument("--before", metavar="REV", help="also run git revision REV's code (the old inbox)")
    parser.add_argument("--durability", action="store_true", help="also run with non-durable commits")
    parser.add_argument("--drain-timeout", type=float, default=1800.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelsieve-load-"))
    results = []
    kwargs = {"events": args.events, "clients": args.clients, "burst": args.burst, "predictors": args.predictors,
              "drain_timeout": args.drain_timeout}
    before = checkout(args.before, tmp / "before") if args.before else None
    try:
        # (label, env) per run of each database: the old code, the new code, the new code made non-durable
        def runs(lowered: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
            out = [(f"before {args.before}", before)] if before else []
            out.append(("after", {}))
            return out + ([("after, not durable", lowered)] if args.durability else [])

        if not args.postgres_only:
            for n, (label, env) in enumerate(runs({"LABELSIEVE_SQLITE_SYNCHRONOUS": "NORMAL"})):
                url = f"sqlite:///{tmp / f'sqlite{n}' / 'load.sqlite3'}"
                results.append(run_load(url, tmp / f"sqlite{n}", label=f"sqlite {label}", env=env, **kwargs))
        if args.postgres or args.postgres_only:
            from tests.harness.postgres import start_postgres

            pg = start_postgres(fsync=True)
            try:
                for n, (label, env) in enumerate(runs({"PGOPTIONS": "-c synchronous_commit=off"})):
                    results.append(run_load(pg.create_database(), tmp / f"postgres{n}", label=f"postgres {label}",
                                            env=env, **kwargs))
            finally:
                pg.stop()
    finally:
        if before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "before")],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(results, f"labelsieve load: {args.events} webhooks in bursts of {args.burst} from {args.clients} "
                         f"clients + {args.predictors} /predict clients (20 tasks each), loopback; "
                         f"{os.cpu_count()} cores, load = 1-min load average before each run")


if __name__ == "__main__":
    main()
