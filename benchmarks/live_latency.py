"""Live latency against a real Label Studio 1.23: annotation submitted → new ranking served by Label Studio.

    .venv/bin/python benchmarks/live_latency.py [--sizes 1000 10000] [--annotations 5] [--queue-depths all 100]
                                                [--postgres]

Starts Label Studio with the test harness (tests/harness/labelstudio.py; its Python comes from
``$LABELSIEVE_LS_PYTHON`` or ``.venv-ls``; ``--postgres`` puts Label Studio's tables on the harness's
PostgreSQL) and ``labelsieve serve`` as a subprocess, both on 127.0.0.1 and stopped by PID. For each project
size and each ``queue_depth`` (``all`` = the behaviour before heads: every unlabeled task gets a prediction;
a number = only that head of the ranking) it creates a project (text tasks, TF-IDF learner,
``retrain_every=1``), submits annotations through ``POST /api/tasks/{id}/annotations/`` (the task ``/next``
served) and measures:

* **switch**: submission → the project's ``model_version`` is the new version (polled every 50 ms);
* **live**: submission → ``GET /api/projects/{id}/next`` serves the new rank-0 task (lowest new score);
* where the time goes, from the server log: labelsieve's fit and ranking seconds, the publisher's push /
  PATCH seconds, the predictions it wrote and Label Studio deleted per round (the prune of the versions a round made
  stale runs in the background during the next round: its seconds, and how long the next push waited for it),
  the task sync's seconds;
* the peak RSS of labelsieve and of Label Studio (VmHWM) after each project.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_line  # noqa: E402
from tests.e2e.helpers import TEXT_CONFIG, backend_status, text_dataset  # noqa: E402
from tests.harness.labelstudio import LabelStudioServer, start_label_studio  # noqa: E402
from tests.harness.postgres import start_postgres  # noqa: E402
from tests.reliability.server import ServerProcess  # noqa: E402

FLAG = "fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short"
EXTRA = {"learner": "text", "strategy": "margin", "retrain_every": 1, "min_annotations": 6}
PUSH_LOG = re.compile(r"project (\d+): pushed (\d+) predictions of (\S+) \((\S*), (\d+) request\(s\)\) in ([\d.]+) s "
                      r"\(import ([\d.]+) s, patch ([\d.]+) s, waited ([\d.]+) s for the last prune\)")
#: the background prune of the versions a version made stale (labelstudio/stale_versions.py), run while the next
#: round fits
PRUNE_LOG = re.compile(r"project (\d+): pruned (\d+) predictions of .*? after (\S+) went live in ([\d.]+) s")
SYNC_LOG = re.compile(r"project (\d+): task sync (\S+) \((\d+) new, (\d+) deleted\) in ([\d.]+) s")


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


def push_log(server: ServerProcess) -> dict[str, dict]:
    """version → what its push did (predictions written, path, requests, seconds, the wait for the last prune)
    and the background prune it started (seconds, Label Studio deletes; 0 until it ran)."""
    text = server.log_path.read_text(errors="replace")
    pruned = {m[2]: (float(m[3]), int(m[1])) for m in PRUNE_LOG.findall(text)}
    return {m[2]: {"pushed": int(m[1]), "path": m[3], "requests": int(m[4]), "push": float(m[5]),
                   "import": float(m[6]), "patch": float(m[7]), "prune_wait": float(m[8]),
                   "prune": pruned.get(m[2], (0.0, 0))[0], "deleted": pruned.get(m[2], (0.0, 0))[1]}
            for m in PUSH_LOG.findall(text)}


def sync_seconds(server: ServerProcess, pid: int) -> list[float]:
    text = server.log_path.read_text(errors="replace")
    return [float(m[4]) for m in SYNC_LOG.findall(text) if int(m[0]) == pid]


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a process and its children's current RSS (Label Studio runs in a child of its launcher)."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def own_rows(database: Path) -> int:
    """Rows in labelsieve's own database (all tables), read behind the server's back."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=60) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(int(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in tables)


def create_project(ls: LabelStudioServer, n: int, depth: str, chunk: int = 20000) -> tuple[int, dict[int, str], float]:
    """A project of ``n`` text tasks, imported ``chunk`` tasks per request (one request of 100k tasks makes
    Label Studio hold them all in memory at once)."""
    items = text_dataset(n, seed=n)
    pid = int(ls.api("POST", "/api/projects", json={"title": f"latency {n} depth {depth}",
                                                    "label_config": TEXT_CONFIG}).json()["id"])
    started = time.perf_counter()
    ids: list[int] = []
    for start in range(0, n, chunk):
        response = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                          json=[{"text": t} for t, _ in items[start:start + chunk]], timeout=3600)
        response.raise_for_status()
        ids.extend(response.json()["task_ids"])
    seconds = time.perf_counter() - started
    print(f"{n} tasks, queue_depth {depth}: project {pid} imported in {seconds:.1f} s "
          f"(load {os.getloadavg()[0]:.1f})", flush=True)
    return pid, {int(tid): label for tid, (_, label) in zip(ids, items, strict=True)}, seconds


def measure_size(ls: LabelStudioServer, server: ServerProcess, database: Path, n: int, k: int, depth: str) -> dict:
    pid, truth, import_s = create_project(ls, n, depth)
    extra = dict(EXTRA, queue_depth="all" if depth == "all" else int(depth))
    # warm the backend up (the first /setup imports the learner; Label Studio gives /setup 3 s)
    httpx.post(f"{server.url}/setup", json={"project": f"{pid}.0", "schema": TEXT_CONFIG, "extra_params": extra},
               timeout=300).raise_for_status()
    connected = None
    for _ in range(5):
        connected = ls.api("POST", "/api/ml", json={"project": pid, "url": server.url, "title": "labelsieve",
                                                    "extra_params": extra})
        if connected.status_code == 201:
            break
    assert connected is not None and connected.status_code == 201, connected.text if connected else ""
    order = list(truth)
    for tid in order[:6]:
        annotate(ls, tid, truth[tid])
    labelled = 6
    first = time.perf_counter()
    wait_idle(ls, server, pid, labelled)
    first_round = time.perf_counter() - first
    first_sync = sync_seconds(server, pid)
    synced = len(first_sync)
    print(f"{n} tasks, queue_depth {depth}: first round settled in {first_round:.1f} s (first-contact sync "
          f"{first_sync[0] if first_sync else float('nan'):.1f} s)", flush=True)

    rows = []
    loads = [os.getloadavg()[0]]
    for _ in range(k):
        status = wait_idle(ls, server, pid, labelled)
        old = status["model_version"]
        rows_before = own_rows(database)
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
        loads.append(os.getloadavg()[0])
        rows.append({"switch": switch, "live": live, "ok": ok, "fit": version["train_seconds"] or 0.0,
                     "rank": status["last_round"]["select_seconds"] or 0.0,
                     "own_rows": own_rows(database) - rows_before, "load": loads[-1], "version": new,
                     **push_log(server)[new]})
        print(f"{n} tasks, queue_depth {depth}: {rows[-1]}", flush=True)
    final = push_log(server)  # a round's prune runs during the next round: read once every round has run
    for row in rows:
        row.update(prune=final[row["version"]]["prune"], deleted=final[row["version"]]["deleted"])
    syncs = sync_seconds(server, pid)[synced:]
    result = {"n": n, "depth": depth, "pid": pid, "rows": rows, "import_tasks_s": import_s,
              "first_round_s": first_round, "first_sync_s": first_sync[0] if first_sync else None,
              "sync": statistics.median(syncs) if syncs else 0.0, "rss_ls": peak_rss_mib(ls.process.pid),
              "rss_labelsieve": peak_rss_mib(server.process.pid), "load": (min(loads), max(loads))}
    print(f"{n} tasks, queue_depth {depth}: RESULT {json.dumps(result)}", flush=True)
    return result


def med(rows: list[dict], key: str, digits: int = 2) -> str:
    return f"{statistics.median(r.get(key, 0.0) for r in rows):.{digits}f}" if rows else "-"


COLUMNS = ["tasks", "queue_depth", "annotations", "load (1 min)", "switch", "live (/next ok)", "served rank 0",
           "fit", "rank", "push (path, requests)", "PATCH", "prune", "prune wait", "sync", "written / round",
           "deleted / round",
           "own rows / round", "task import s", "first round s", "peak RSS labelsieve / LS MiB"]


def table_row(r: dict) -> list[str]:
    rows = r["rows"]
    return [str(r["n"]), r["depth"], str(len(rows)), f"{r['load'][0]:.1f}–{r['load'][1]:.1f}", med(rows, "switch"),
            med(rows, "live"), f"{sum(x['ok'] for x in rows)}/{len(rows)}", med(rows, "fit"), med(rows, "rank"),
            f"{med(rows, 'import')} ({rows[-1]['path']}, {rows[-1]['requests']})" if rows else "-",
            med(rows, "patch"), med(rows, "prune"), med(rows, "prune_wait"), f"{r['sync']:.2f}", med(rows, "pushed", 0),
            med(rows, "deleted", 0),
            med(rows, "own_rows", 0), f"{r['import_tasks_s']:.1f}", f"{r['first_round_s']:.1f}",
            f"{r['rss_labelsieve']:.0f} / {r['rss_ls']:.0f}"]


def table(results: list[dict], header_line: str) -> None:
    print(f"\n{header_line}")
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    for r in results:
        print("| " + " | ".join(table_row(r)) + " |", flush=True)


def report(logs: list[Path]) -> None:
    """The markdown table of the RESULT lines earlier runs printed (one per project measured)."""
    for log in logs:
        results = [json.loads(line.split(" RESULT ", 1)[1]) for line in log.read_text().splitlines()
                   if " RESULT " in line]
        table(results, f"from {log} (load: the column)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--annotations", type=int, default=5)
    parser.add_argument("--annotations-all", type=int, default=None,
                        help="annotations measured for queue_depth all (default --annotations; at 100k a round of "
                             "`all` costs Label Studio many minutes)")
    parser.add_argument("--queue-depths", nargs="+", default=["all", "100"])
    parser.add_argument("--postgres", action="store_true", help="Label Studio on PostgreSQL (tests/harness)")
    parser.add_argument("--flag", action="store_true",
                        help="start Label Studio with its memory-efficient prediction import flag on")
    parser.add_argument("--report", type=Path, nargs="+", help="only print the tables of earlier runs' logs")
    args = parser.parse_args()
    if args.report:
        report(args.report)
        return

    work = Path(tempfile.mkdtemp(prefix="labelsieve-live-latency-"))
    pg = start_postgres() if args.postgres else None
    started = time.perf_counter()
    ls = start_label_studio(work / "files", database=pg.create_database() if pg else None,
                            env={FLAG: "true"} if args.flag else None)
    ls_start = time.perf_counter() - started
    database = work / "labelsieve.sqlite3"
    server = ServerProcess(work / "labelsieve", f"sqlite:///{database}",
                           LABEL_STUDIO_URL=ls.url, LABEL_STUDIO_API_KEY=ls.token, LABELSIEVE_LOG_LEVEL="INFO")
    header = (f"Label Studio 1.23.2 ({'PostgreSQL' if pg else 'SQLite'}{', import flag on' if args.flag else ''}) "
              f"started in {ls_start:.1f} s; labelsieve on SQLite, debounce "
              f"{os.environ.get('LABELSIEVE_DEBOUNCE_SECONDS', '1.0 (default)')} s, keep 2 prediction versions; "
              "peak RSS is each process's high-water mark since the run started")
    results: list[dict] = []
    try:
        server.start()
        for n in args.sizes:
            for depth in args.queue_depths:
                k = args.annotations_all if depth == "all" and args.annotations_all is not None else args.annotations
                results.append(measure_size(ls, server, database, n, k, depth))
                table(results, f"{machine_line()}; {header}")
    finally:
        server.stop()
        ls.stop()
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
