"""Service latencies on a real server on 127.0.0.1: /predict (1 and 100 tasks), webhook acknowledgement,
and retrain time on 500 digits images.

    .venv/bin/python benchmarks/service_latency.py [--repeats 30] [--database-url URL]

Starts `labelsieve serve` in a subprocess (stopped by its PID), writes sklearn's digits as PNG files under a
local-files document root, and prints a table of medians (with p90) over the repeats.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.factories import IMAGE_CONFIG, annotation_event, ls_task, setup_payload, write_digits  # noqa: E402

P = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def task(i: int, path: str) -> dict:
    return ls_task(10_000 + i, {"image": f"/data/local-files/?d={path}"}, P)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--train", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="labelsieve-bench-"))
    paths, labels = write_digits(tmp / "files")
    port = free_port()
    env = dict(os.environ, LABELSIEVE_DATA_DIR=str(tmp / "data"), LABELSIEVE_DEBOUNCE_SECONDS="1.0",
               LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(tmp / "files"), LABELSIEVE_LOG_LEVEL="WARNING")
    if args.database_url:
        env["LABELSIEVE_DATABASE_URL"] = args.database_url
    server = subprocess.Popen([str(ROOT / ".venv/bin/labelsieve"), "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=120)
    try:
        for _ in range(200):
            try:
                client.get("/health")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        client.post("/setup", json=setup_payload(P, IMAGE_CONFIG)).raise_for_status()
        order = np.random.default_rng(0).permutation(len(paths))
        pool = [task(int(i), paths[int(i)]) for i in order[args.train:]]
        client.post("/predict", json={"tasks": pool, "project": f"{P}.1"}).raise_for_status()

        acks = []
        started = time.perf_counter()
        for n, i in enumerate(order[: args.train]):
            event = annotation_event("ANNOTATION_CREATED", annotation_id=1 + n, task=task(int(i), paths[int(i)]),
                                     project_id=P, config=IMAGE_CONFIG, from_name="label", to_name="image",
                                     choice=str(labels[int(i)]))
            t0 = time.perf_counter()
            client.post("/webhook", json=event).raise_for_status()
            acks.append(time.perf_counter() - t0)
        while True:
            status = client.get(f"/projects/{P}").json()
            ready = [v for v in status["versions"] if v["status"] == "ready"]
            if ready and status["annotations_since_train"] == 0:
                break
            time.sleep(0.2)
        live = time.perf_counter() - started
        version = ready[-1]

        def timed(tasks: list[dict]) -> list[float]:
            out = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                client.post("/predict", json={"tasks": tasks, "project": f"{P}.1"}).raise_for_status()
                out.append(time.perf_counter() - t0)
            return out

        ranked_1 = timed(pool[:1])
        ranked_100 = timed(pool[:100])
        fresh = [task(100_000 + k, paths[int(order[k])]) for k in range(100)]  # not in the stored ranking
        fresh_1 = timed(fresh[:1])
        fresh_100 = timed(fresh)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    def row(name: str, values: list[float]) -> tuple[str, str, str, str]:
        ms = sorted(v * 1000 for v in values)
        return name, f"{statistics.median(ms):.1f}", f"{ms[int(0.9 * (len(ms) - 1))]:.1f}", str(len(ms))

    table = Table(title=f"labelsieve service latency ({'PostgreSQL' if args.database_url else 'SQLite'})")
    for column in ("measure", "median ms", "p90 ms", "n"):
        table.add_column(column)
    table.add_row(*row("webhook ack (ANNOTATION_CREATED)", acks))
    table.add_row(*row("/predict 1 task (ranked, stored prediction)", ranked_1))
    table.add_row(*row("/predict 100 tasks (ranked, stored predictions)", ranked_100))
    table.add_row(*row("/predict 1 task (new task: fetch + infer)", fresh_1))
    table.add_row(*row("/predict 100 tasks (new tasks: fetch + infer)", fresh_100))
    Console().print(table)
    print(f"retrain on {version['n_train']} digits images: fit {version['train_seconds']:.1f} s; "
          f"first webhook -> model + ranking of {len(pool)} tasks stored: {live:.1f} s")


if __name__ == "__main__":
    main()
