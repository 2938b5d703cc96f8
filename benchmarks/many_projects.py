"""Many projects on one backend: N projects × M text tasks, one simulated annotator per project.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/many_projects.py [--projects 10] [--tasks 2000]
        [--seconds 180] [--interval 5] [--postgres] [--no-sqlite] [--slots 1] [--extra '{"cv_estimate": false}']

Starts ``labelsieve serve`` in a subprocess (its own store on SQLite, and with ``--postgres`` also on a throwaway
PostgreSQL) against a loopback *stand-in* for Label Studio (``FakeLabelStudio``, benchmarks/label_studio_standin.py,
in this process): it answers the first contact's task pages, takes the pushed predictions and records the time of
each ``PATCH`` that makes a version live. Label Studio's own cost of the pushes is therefore not in these numbers
(see live_latency.py for that); everything labelsieve does is. Each project is connected with ``/setup`` (first
contact syncs its tasks), gets 4 seed labels, and once every project serves a model, its annotator labels every
``--interval`` s (±20 %) the task Label Studio would serve (the live version's lowest score among unlabelled tasks)
and sends the webhook.

Per project: annotations sent, rounds trained, median / p95 of *annotation → new order live* (webhook sent →
``PATCH model_version`` of the first version trained on at least that many labels), webhook ack p99, rounds that
waited for another project's round (``labelsieve_training_slot_waits_total``) and the seconds waited; and the
server's peak RSS (VmHWM); the median of each phase of a trained round from the server's log (its thread's CPU
seconds too: ``cpu``, ``fit_round_cpu``, ``store_cpu``), and the count and median seconds of the background
data-quality passes (``background_jobs``, ``background_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.label_studio_standin import FakeLabelStudio  # noqa: E402
from benchmarks.load import FILLER, WORDS  # noqa: E402
from tests.factories import TEXT_CONFIG, annotation_event, ls_task, setup_payload  # noqa: E402
from tests.reliability.server import ServerProcess  # noqa: E402

KEY = "legacy-key-123"


def make_tasks(pid: int, n: int, seed: int) -> list[tuple[int, str, str]]:
    rng = np.random.default_rng([seed, pid])
    out = []
    for i in range(1, n + 1):
        label = "Positive" if rng.random() < 0.5 else "Negative"
        words = list(rng.choice(WORDS[label], size=2)) + list(rng.choice(FILLER, size=6))
        rng.shuffle(words)
        out.append((pid * 1_000_000 + i, " ".join(words), label))
    return out


class Annotator(threading.Thread):
    def __init__(self, url: str, fake: FakeLabelStudio, pid: int, interval: float, start_in: float,
                 stop: threading.Event, ids: Any) -> None:
        super().__init__(daemon=True)
        self.url, self.fake, self.pid, self.interval, self.start_in, self.stop, self.ids = \
            url, fake, pid, interval, start_in, stop, ids
        self.sent: list[tuple[float, int]] = []  # (time sent, labels of the project after it)
        self.acks: list[float] = []
        self.rng = np.random.default_rng(pid)

    def label(self, client: httpx.Client, n_labels: int, seed_label: str | None = None) -> None:
        task_id, words, label = self.fake.next_task(self.pid, self.rng, seed_label)
        event = annotation_event("ANNOTATION_CREATED", annotation_id=next(self.ids), task=ls_task(
            task_id, {"text": words}, self.pid), project_id=self.pid, config=TEXT_CONFIG, from_name="sentiment",
            to_name="text", choice=label)
        began = time.perf_counter()
        client.post("/webhook", json=event).raise_for_status()
        self.acks.append(time.perf_counter() - began)
        self.sent.append((began, n_labels))

    def run(self) -> None:
        # a new connection per webhook, as Label Studio sends them (no idle keep-alive for the server to close)
        with httpx.Client(base_url=self.url, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            n = len(self.fake.labelled[self.pid])
            if self.stop.wait(self.start_in):
                return
            while not self.stop.is_set():
                n += 1
                self.label(client, n)
                self.stop.wait(self.interval * self.rng.uniform(0.8, 1.2))


def versions(database_url: str) -> dict[int, list[tuple[str, int]]]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT project_id, version, n_train FROM modelversion WHERE status = 'ready'"))
            out: dict[int, list[tuple[str, int]]] = {}
            for pid, version, n_train in rows:
                out.setdefault(int(pid), []).append((str(version), int(n_train)))
            return out
    finally:
        engine.dispose()


def metric_by_project(body: str, name: str, extra: str = "") -> dict[int, float]:
    pattern = re.compile(rf'^{name}{{project="(\d+)"{extra}}} (\S+)$', re.M)
    return {int(p): float(v) for p, v in pattern.findall(body)}


def wait_for(what: str, predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except httpx.TransportError:  # a kept-alive connection the loaded server closed: ask again
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)


def run(database_url: str, data_dir: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    pids = [101 + k for k in range(args.projects)]
    fake = FakeLabelStudio({pid: make_tasks(pid, args.tasks, 0) for pid in pids})
    server = ServerProcess(data_dir, database_url, LABEL_STUDIO_URL=fake.url, LABEL_STUDIO_API_KEY=KEY,
                           LABELSIEVE_DEBOUNCE_SECONDS=str(args.debounce), LABELSIEVE_VERIFY_WEBHOOKS="false",
                           LABELSIEVE_MAX_CONCURRENT_TRAININGS=str(args.slots), LABELSIEVE_LOG_LEVEL="INFO").start()
    ids = iter(range(1, 10**9))
    stop = threading.Event()
    try:
        extra = {"learner": "text", "strategy": "margin", "min_annotations": 2, **json.loads(args.extra)}
        with server.client(timeout=300) as client:
            for pid in pids:
                client.post("/setup", json=setup_payload(pid, TEXT_CONFIG, extra)).raise_for_status()
            wait_for("first contacts", lambda: all((client.get(f"/projects/{pid}").json().get("first_contact") or {})
                                                   .get("state") == "done" for pid in pids), 600)
            for pid in pids:  # seed labels of both classes: each project trains its first model
                seeder = Annotator(server.url, fake, pid, 0, 0, stop, ids)
                for n, label in enumerate(["Positive", "Negative"] * 2, start=1):
                    seeder.label(client, n, label)
            wait_for("first models", lambda: all(client.get(f"/projects/{pid}").json().get("model_version")
                                                  for pid in pids), 600)
            before = client.get("/metrics").text
        annotators = [Annotator(server.url, fake, pid, args.interval, k * args.interval / len(pids), stop, ids)
                      for k, pid in enumerate(pids)]
        for a in annotators:
            a.start()
        time.sleep(args.seconds)
        stop.set()
        for a in annotators:
            a.join(60)
        with server.client(timeout=60) as client:
            wait_for("drain", lambda: client.get("/health").json()["queue_length"] == 0 and all(
                client.get(f"/projects/{pid}").json()["annotations_since_train"] == 0 for pid in pids), 600)
            after = client.get("/metrics").text
        peak = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{server.process.pid}/status").read_text())
        peak_mib = int(peak.group(1)) / 1024 if peak else float("nan")
        phases = round_phases(server.log_path.read_text(errors="replace"))
    finally:
        stop.set()
        server.stop()
        fake.stop()
    stored = versions(database_url)
    rows = []
    waits0, waits1 = (metric_by_project(m, "labelsieve_training_slot_waits_total") for m in (before, after))
    secs0, secs1 = (metric_by_project(m, "labelsieve_training_slot_wait_seconds_sum") for m in (before, after))
    trained0, trained1 = (metric_by_project(m, "labelsieve_retrains_total", ',status="trained"')
                          for m in (before, after))
    for a in annotators:
        pid = a.pid
        live_at = [(fake.live[(pid, v)], n) for v, n in stored.get(pid, []) if (pid, v) in fake.live]
        lat = []
        for sent, n_labels in a.sent:
            times = [t for t, n in live_at if n >= n_labels and t >= sent]
            if times:
                lat.append(min(times) - sent)
        rows.append({"project": pid, "sent": len(a.sent), "live": len(lat),
                     "rounds": int(trained1.get(pid, 0) - trained0.get(pid, 0)),
                     "median": float(np.median(lat)) if lat else float("nan"),
                     "p95": float(np.percentile(lat, 95)) if lat else float("nan"),
                     "ack_p99_ms": float(np.percentile(a.acks, 99) * 1000) if a.acks else float("nan"),
                     "waited": int(waits1.get(pid, 0) - waits0.get(pid, 0)),
                     "wait_s": secs1.get(pid, 0.0) - secs0.get(pid, 0.0), "lat": lat, "acks": a.acks,
                     "peak_mib": peak_mib, "phases": phases})
    return rows


BACKGROUND_LINE = re.compile(r"data-quality pass of project \S+ \S+ done in (\S+) s")
ROUND_LINE = re.compile(r"retrain: trained \S+\s+in (\S+) s (.*)$", re.M)


def round_phases(log_text: str) -> dict[str, float]:
    """Median seconds of each phase of the trained rounds the server logged (``worker.py``'s retrain line)."""
    phases: dict[str, list[float]] = {}
    for seconds, rest in ROUND_LINE.findall(log_text):
        phases.setdefault("round", []).append(float(seconds))
        for pair in rest.split():
            key, _, value = pair.partition("=")
            if key not in ("decoded", "cached") and value:
                phases.setdefault(key, []).append(float(value))
    background = [float(s) for s in BACKGROUND_LINE.findall(log_text)]
    if background:  # the data-quality passes that ran (5-fold estimate, review, drift), and their median seconds
        phases["background_jobs"] = [float(len(background))] * 2
        phases["background_s"] = background
    return {k: float(np.median(v)) for k, v in phases.items()}


def print_rows(label: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n### {label}\n")
    print("| project | annotations | rounds | live median s | live p95 s | ack p99 ms | rounds that waited | "
          "waited s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['project']} | {r['sent']} | {r['rounds']} | {r['median']:.2f} | {r['p95']:.2f} | "
              f"{r['ack_p99_ms']:.0f} | {r['waited']} | {r['wait_s']:.1f} |")
    lat = [x for r in rows for x in r["lat"]]
    acks = [x for r in rows for x in r["acks"]]
    print(f"| **all** | {sum(r['sent'] for r in rows)} | {sum(r['rounds'] for r in rows)} | "
          f"{np.median(lat):.2f} | {np.percentile(lat, 95):.2f} | {np.percentile(acks, 99) * 1000:.0f} | "
          f"{sum(r['waited'] for r in rows)} | {sum(r['wait_s'] for r in rows):.1f} |")
    print(f"\npeak RSS of the labelsieve process: {rows[0]['peak_mib']:.0f} MiB; annotations with no live version "
          f"before the end: {sum(r['sent'] - r['live'] for r in rows)}")
    print("\nmedian seconds per trained round, by phase: " +
          ", ".join(f"{k} {v:.3f}" for k, v in rows[0]["phases"].items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--debounce", type=float, default=1.0)
    parser.add_argument("--slots", type=int, default=1, help="LABELSIEVE_MAX_CONCURRENT_TRAININGS")
    parser.add_argument("--postgres", action="store_true", help="also run with labelsieve's store on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    parser.add_argument("--extra", default="{}", help="project settings (JSON) added to every project's /setup")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="labelsieve-many-"))
    print(f"{args.projects} projects × {args.tasks} tasks, an annotation every {args.interval} s per project for "
          f"{args.seconds:.0f} s, {args.slots} training slot(s), "
          f"debounce {args.debounce} s; "
          f"load before: {os.getloadavg()[0]:.1f}")
    if not args.no_sqlite:
        print_rows("labelsieve store on SQLite", run(f"sqlite:///{tmp / 'sqlite' / 'store.sqlite3'}",
                                                     tmp / "sqlite", args))
    if args.postgres:
        from tests.harness.postgres import start_postgres

        pg = start_postgres(fsync=True)
        try:
            print_rows("labelsieve store on PostgreSQL", run(pg.create_database(), tmp / "postgres", args))
        finally:
            pg.stop()


if __name__ == "__main__":
    main()
