"""Live latency against a real Label Studio 1.23: annotation submitted → new ranking served by Label Studio.

    .venv/bin/python benchmarks/live_latency.py [--sizes 1000 10000] [--annotations 5] [--batch-sizes 2000 10000]

Starts Label Studio with the test harness (tests/harness/labelstudio.py; its Python comes from
``$LABELSIEVE_LS_PYTHON`` or ``.venv-ls``) and ``labelsieve serve`` as a subprocess, both on 127.0.0.1
and stopped by PID. For each project size (text tasks, TF-IDF learner, ``retrain_every=1``) it submits
annotations through ``POST /api/tasks/{id}/annotations/`` (the task ``/next`` served) and measures:

* **switch**: submission → the project's ``model_version`` is the new version (polled every 50 ms);
* **live**: submission → ``GET /api/projects/{id}/next`` serves the new rank-0 task (lowest new score);
* where the time goes: labelsieve's fit and ranking seconds, and the publisher's import / PATCH / prune
  seconds (from the server log), plus one timed ``GET /export`` of the project (the pool refresh).

Then it re-pushes the largest project's current ranking under throw-away versions with each
``--batch-sizes`` value to show how the Label Studio import cost depends on the batch size.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import print_table  # noqa: E402
from tests.e2e.helpers import TEXT_CONFIG, backend_status, text_dataset  # noqa: E402
from tests.harness.labelstudio import LabelStudioServer, start_label_studio  # noqa: E402
from tests.reliability.server import ServerProcess  # noqa: E402

EXTRA = {"learner": "text", "strategy": "margin", "retrain_every": 1, "min_annotations": 6}
PUSH_LOG = re.compile(r"pushed (\d+) predictions of (\S+) to Label Studio in ([\d.]+) s \(import ([\d.]+) s in "
                      r"(\d+) batch\(es\), patch ([\d.]+) s, prune ([\d.]+) s")


def ls_json(ls: LabelStudioServer, method: str, path: str, **kwargs) -> dict:
    """Label Studio on SQLite answers 500 "database is locked" while another request writes: retry those."""
    for _ in range(40):
        response = ls.api(method, path, **kwargs)
        if response.status_code != 500:
            break
        time.sleep(0.25)
    response.raise_for_status()
    return dict(response.json())


def ls_version(ls: LabelStudioServer, pid: int) -> str:
    return str(ls_json(ls, "GET", f"/api/projects/{pid}/").get("model_version") or "")


def annotate(ls: LabelStudioServer, task_id: int, label: str) -> int:
    result = [{"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
    return int(ls_json(ls, "POST", f"/api/tasks/{task_id}/annotations/", json={"result": result})["id"])


def next_task(ls: LabelStudioServer, pid: int) -> int:
    return int(ls_json(ls, "GET", f"/api/projects/{pid}/next")["id"])


def wait_idle(ls: LabelStudioServer, server: ServerProcess, pid: int, labelled: int, timeout: float = 1800.0) -> dict:
    """The serving model saw all ``labelled`` annotations, is live in Label Studio, and its push (prune included)
    has finished: the next annotation starts from an idle system."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backend_status(server.url, pid)
        ready = [v for v in status["versions"] if v["status"] == "ready"]
        if (ready and ready[-1]["version"] == status["model_version"] and ready[-1]["n_train"] == labelled
                and status["model_version"] in push_log(server) and ls_version(ls, pid) == status["model_version"]):
            return status
        time.sleep(0.5)
    raise RuntimeError(f"project {pid} never settled: {backend_status(server.url, pid)}")


def push_log(server: ServerProcess) -> dict[str, tuple[float, ...]]:
    text = server.log_path.read_text(errors="replace")
    return {m[1]: (int(m[0]), float(m[2]), float(m[3]), int(m[4]), float(m[5]), float(m[6]))
            for m in PUSH_LOG.findall(text)}


def create_project(ls: LabelStudioServer, n: int) -> tuple[int, dict[int, str], float]:
    items = text_dataset(n, seed=n)
    pid = int(ls.api("POST", "/api/projects", json={"title": f"latency {n}", "label_config": TEXT_CONFIG}).json()["id"])
    started = time.perf_counter()
    response = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                      json=[{"text": t} for t, _ in items], timeout=600)
    response.raise_for_status()
    ids = response.json()["task_ids"]
    return pid, {int(tid): label for tid, (_, label) in zip(ids, items, strict=True)}, time.perf_counter() - started


def measure_size(ls: LabelStudioServer, server: ServerProcess, n: int, k: int) -> dict:
    pid, truth, import_s = create_project(ls, n)
    # warm the backend up (the first /setup imports the learner; Label Studio gives /setup 3 s)
    httpx.post(f"{server.url}/setup", json={"project": f"{pid}.0", "schema": TEXT_CONFIG, "extra_params": EXTRA},
               timeout=300).raise_for_status()
    connected = None
    for _ in range(5):
        connected = ls.api("POST", "/api/ml", json={"project": pid, "url": server.url, "title": "labelsieve",
                                                    "extra_params": EXTRA})
        if connected.status_code == 201:
            break
    assert connected is not None and connected.status_code == 201, connected.text if connected else ""
    order = list(truth)
    for tid in order[:6]:
        annotate(ls, tid, truth[tid])
    labelled = 6
    wait_idle(ls, server, pid, labelled)
    started = time.perf_counter()
    ls.api("GET", f"/api/projects/{pid}/export", params={"exportType": "JSON", "download_all_tasks": "true"},
           timeout=600).raise_for_status()
    export_s = time.perf_counter() - started

    rows = []
    for _ in range(k):
        status = wait_idle(ls, server, pid, labelled)
        old = status["model_version"]
        task_id = next_task(ls, pid)  # the task the last round's /next check served (still locked to us)
        t0 = time.perf_counter()
        annotate(ls, task_id, truth[task_id])
        labelled += 1
        while ls_version(ls, pid) == old:
            time.sleep(0.05)
        switch = time.perf_counter() - t0
        status = backend_status(server.url, pid)
        served = next_task(ls, pid)
        live = time.perf_counter() - t0
        new = status["model_version"]
        ok = status["last_round"]["model_version"] == new and served == status["last_round"]["batch"][0]
        wait_idle(ls, server, pid, labelled)
        version = next(v for v in backend_status(server.url, pid)["versions"] if v["version"] == new)
        pushed = push_log(server)[new]
        rows.append({"switch": switch, "live": live, "ok": ok, "fit": version["train_seconds"] or 0.0,
                     "rank": status["last_round"]["select_seconds"] or 0.0, "push": pushed[1],
                     "import": pushed[2], "batches": pushed[3], "patch": pushed[4], "prune": pushed[5]})
        print(f"{n} tasks: {rows[-1]}", flush=True)
    return {"n": n, "pid": pid, "rows": rows, "import_tasks_s": import_s, "export_s": export_s}


def retried(call, *args, **kwargs):
    from labelsieve.labelstudio.errors import RetryLater

    for attempt in range(40):
        try:
            return call(*args, **kwargs)
        except RetryLater:  # SQLite "database is locked" (HTTP 500) while Label Studio finishes other writes
            if attempt == 39:
                raise
            time.sleep(0.25)


def push_experiment(ls: LabelStudioServer, server: ServerProcess, pid: int, batch_sizes: list[int]) -> list[list]:
    """Re-push the current ranking under throw-away versions (not labelsieve-v*: the server never prunes them)."""
    from labelsieve.labelstudio.client import LabelStudioClient
    from labelsieve.labelstudio.publisher import LabelStudioPublisher
    from labelsieve.storage.db import make_engine

    engine = make_engine(server.database_url)
    publisher = LabelStudioPublisher(engine=engine, client_factory=lambda _pid: None)
    client = LabelStudioClient(ls.url, ls.token, timeout=1800.0)
    current = backend_status(server.url, pid)["model_version"]
    time.sleep(5.0)  # the server's last prune may still be deleting in Label Studio
    payload = publisher.predictions_payload(pid, current)
    out = []
    for size in batch_sizes:
        version = f"bench-push-{size}"
        rows = [dict(row, model_version=version) for row in payload]
        started = time.perf_counter()
        for start in range(0, len(rows), size):
            retried(client.import_predictions, pid, rows[start:start + size])
        imported = time.perf_counter()
        retried(client.update_project, pid, model_version=version)
        patched = time.perf_counter()
        out.append([f"{len(rows)}", f"{size}", f"{-(-len(rows) // size)}", f"{imported - started:.2f}",
                    f"{patched - imported:.2f}"])
    retried(client.update_project, pid, model_version=current)
    # the prune of a round deletes one version; Label Studio deletes row by row, so time a sample of 1000
    sample = [dict(row, model_version="bench-delete") for row in payload[:1000]]
    retried(client.import_predictions, pid, sample)
    started = time.perf_counter()
    retried(client.delete_model_version, pid, "bench-delete")
    deleted = time.perf_counter() - started
    engine.dispose()
    return out, (len(sample), deleted)


def med(rows: list[dict], key: str) -> str:
    return f"{statistics.median(r[key] for r in rows):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--annotations", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--keep-versions", type=int, default=None,
                        help="LABELSIEVE_KEEP_PREDICTION_VERSIONS of the server (default 2: each round prunes one "
                             "version, which Label Studio deletes row by row; a large value leaves the prune out)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="labelsieve-live-latency-"))
    started = time.perf_counter()
    ls = start_label_studio(work / "files")
    ls_start = time.perf_counter() - started
    server = ServerProcess(work / "labelsieve", f"sqlite:///{work / 'labelsieve.sqlite3'}",
                           LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=ls.token, LABELSIEVE_LOG_LEVEL="INFO",
                           **({} if args.keep_versions is None
                              else {"LABELSIEVE_KEEP_PREDICTION_VERSIONS": str(args.keep_versions)}))
    try:
        server.start()
        results = [measure_size(ls, server, n, args.annotations) for n in args.sizes]
        pushes, deleted = (push_experiment(ls, server, results[-1]["pid"], args.batch_sizes) if args.batch_sizes
                           else ([], (0, 0.0)))
    finally:
        server.stop()
        ls.stop()
    load = os.getloadavg()
    print(f"\n{platform.node()}: {os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} "
          f"at the end; Label Studio 1.23.2 (SQLite) started in {ls_start:.1f} s; labelsieve on SQLite, "
          f"debounce {os.environ.get('LABELSIEVE_DEBOUNCE_SECONDS', '1.0 (default)')} s, keep "
          f"{args.keep_versions or '2 (default)'} prediction versions")
    print_table(
        f"Annotation → new ranking live in Label Studio (median of {args.annotations} annotations, seconds)",
        ["tasks", "switch", "live (/next ok)", "served rank 0", "fit", "rank", "push", "push: import",
         "batches", "push: PATCH", "push: prune", "GET /export", "LS task import"],
        [[str(r["n"]), med(r["rows"], "switch"), med(r["rows"], "live"),
          f"{sum(x['ok'] for x in r['rows'])}/{len(r['rows'])}", med(r["rows"], "fit"), med(r["rows"], "rank"),
          med(r["rows"], "push"), med(r["rows"], "import"), str(r["rows"][0]["batches"]), med(r["rows"], "patch"),
          med(r["rows"], "prune"), f"{r['export_s']:.2f}", f"{r['import_tasks_s']:.1f}"] for r in results],
    )
    if pushes:
        print_table(f"Pushing {pushes[0][0]} predictions into Label Studio by batch size (seconds, one run each)",
                    ["predictions", "batch size", "requests", "import", "PATCH model_version"], pushes)
        print(f"DELETE /api/projects/{{id}}/model-versions/ of a version of {deleted[0]} predictions in that project: "
              f"{deleted[1]:.2f} s ({deleted[1] / deleted[0] * 1000:.1f} ms per prediction)")


if __name__ == "__main__":
    main()
