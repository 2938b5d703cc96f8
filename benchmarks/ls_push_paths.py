"""The three ways predictions get into Label Studio 1.23.2, and what a round's other calls cost, by project size.

    .venv/bin/python benchmarks/ls_push_paths.py [--sizes 1000 20000] [--head 100] [--repeats 3]

Starts two Label Studio servers with the test harness (SQLite, loopback; ``--postgres`` puts both on the
harness's PostgreSQL): one with default settings, one with the feature flag
``fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short`` on. In a project of each size
(text tasks) it pushes a head of ``--head`` predictions under throw-away versions, ``--repeats`` times:

* **bulk (legacy)**: one ``POST /api/projects/{id}/import/predictions`` on the default server (it recounts
  every task of the project afterwards);
* **bulk (flag on)**: the same request on the flagged server (recounts only the imported tasks);
* **single ×2**: ``POST /api/predictions/`` per prediction, 2 at a time, on the default server;

and, once, the whole pool through the legacy bulk import (what a round cost before heads). It also times
``DELETE /api/projects/{id}/model-versions/`` of a head-sized version, the new-task listing labelsieve's
task sync uses (``GET /api/tasks`` filtered on ``id >`` the highest known; 10 new tasks) and the full export.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_line, print_table  # noqa: E402
from tests.e2e.helpers import TEXT_CONFIG, text_dataset  # noqa: E402
from tests.harness.labelstudio import LabelStudioServer, start_label_studio  # noqa: E402
from tests.harness.postgres import start_postgres  # noqa: E402

from labelsieve.labelstudio.client import LabelStudioClient  # noqa: E402
from labelsieve.labelstudio.pusher import PredictionPusher  # noqa: E402

FLAG = "fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short"
RESULT = [{"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": ["food"]}}]


def make_project(ls: LabelStudioServer, n: int) -> tuple[int, list[int]]:
    pid = int(ls.api("POST", "/api/projects", json={"title": f"push {n}", "label_config": TEXT_CONFIG}).json()["id"])
    items = text_dataset(n, seed=n)
    ids: list[int] = []
    for start in range(0, n, 20000):  # 20k tasks a request, as benchmarks/live_latency.py imports them
        response = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                          json=[{"text": t} for t, _ in items[start:start + 20000]], timeout=1800)
        response.raise_for_status()
        ids.extend(int(t) for t in response.json()["task_ids"])
    return pid, ids


def payload(ids: list[int], version: str) -> list[dict]:
    return [{"task": t, "result": RESULT, "score": (r + 1) / (len(ids) + 1), "model_version": version}
            for r, t in enumerate(ids)]


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def measure(plain: LabelStudioServer, flagged: LabelStudioServer, n: int, head: int, repeats: int,
            pool_delete_max: int, export_max: int, pool_max: int, list_all_max: int) -> dict:
    a, b = LabelStudioClient(plain.url, plain.token, timeout=1800), LabelStudioClient(flagged.url, flagged.token,
                                                                                     timeout=1800)
    pid_a, ids_a = make_project(plain, n)
    pid_b, ids_b = make_project(flagged, n)
    single = PredictionPusher(mode="single", concurrency=2)
    out: dict = {"n": n, "kind_a": a.probe_bulk_import(pid_a), "kind_b": b.probe_bulk_import(pid_b)}
    legacy, flag, one, delete = [], [], [], []
    for i in range(repeats):
        legacy.append(timed(a.import_predictions, pid_a, payload(ids_a[:head], f"bench-legacy-{i}")))
        flag.append(timed(b.import_predictions, pid_b, payload(ids_b[:head], f"bench-flag-{i}")))
        one.append(timed(single.push, a, pid_a, payload(ids_a[:head], f"bench-single-{i}")))
        delete.append(timed(a.delete_model_version, pid_a, f"bench-single-{i}"))
    out.update(legacy=statistics.median(legacy), flag=statistics.median(flag), single=statistics.median(one),
               delete=statistics.median(delete))
    out["pool"] = timed(a.import_predictions, pid_a, payload(ids_a, "bench-pool")) if n <= pool_max else None
    out["pool_delete"] = (timed(a.delete_model_version, pid_a, "bench-pool")
                          if n <= min(pool_delete_max, pool_max) else None)
    out["list_new"] = timed(lambda: a.list_tasks(pid_a, after_id=max(ids_a) - 10))
    out["list_all"] = timed(lambda: a.list_tasks(pid_a, after_id=0)) if n <= list_all_max else None
    out["count"] = timed(a.get_project, pid_a)
    out["export"] = timed(a.export_tasks, pid_a) if n <= export_max else None
    out["load"] = os.getloadavg()[0]
    print(out, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--head", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pool-delete-max", type=int, default=20000,
                        help="time deleting the whole-pool version only up to this size (Label Studio: minutes)")
    parser.add_argument("--pool-max", type=int, default=100000,
                        help="push the whole pool (legacy bulk) only up to this size")
    parser.add_argument("--list-all-max", type=int, default=100000,
                        help="time listing every task only up to this size")
    parser.add_argument("--export-max", type=int, default=100000,
                        help="time the full export only up to this size")
    parser.add_argument("--postgres", action="store_true", help="both servers on PostgreSQL (tests/harness)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labelsieve-push-paths-"))
    pg = start_postgres() if args.postgres else None
    plain = start_label_studio(work / "a", database=pg.create_database() if pg else None)
    flagged = start_label_studio(work / "b", env={FLAG: "true"}, database=pg.create_database() if pg else None)
    try:
        rows = [measure(plain, flagged, n, args.head, args.repeats, args.pool_delete_max, args.export_max,
                        args.pool_max, args.list_all_max)
                for n in args.sizes]
    finally:
        plain.stop()
        flagged.stop()
        if pg is not None:
            pg.stop()
    print(f"\n{machine_line()}; Label Studio 1.23.2 on {'PostgreSQL' if pg else 'SQLite'}; medians of {args.repeats}")

    def s(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    print_table(f"Pushing a head of {args.head} predictions, and a round's other Label Studio calls (seconds)",
                ["tasks", "bulk (legacy)", "bulk (flag on)", "single x2", "whole pool, bulk (legacy)",
                 f"delete {args.head}-prediction version", "delete whole-pool version", "list 10 new tasks",
                 "list all tasks (by id)", "GET project", "full export", "probe", "load (1 min)"],
                [[str(r["n"]), s(r["legacy"]), s(r["flag"]), s(r["single"]), s(r["pool"]), s(r["delete"]),
                  s(r["pool_delete"]), s(r["list_new"]), s(r["list_all"]), s(r["count"]), s(r["export"]),
                  f"{r['kind_a']}/{r['kind_b']}", f"{r['load']:.1f}"] for r in rows])


if __name__ == "__main__":
    main()
