"""First contact against a real Label Studio 1.23.2: connect a labelled project → ``/next`` serves labelsieve's rank 0.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/first_contact.py [--sizes 10000] [--annotations 12]
                                                                   [--page-size 5000] [--out PATH]

Starts Label Studio (tests/harness, SQLite) and ``labelsieve serve`` on 127.0.0.1, both stopped by PID. For each size
it creates a text project, annotates the first ``--annotations`` tasks in Label Studio *before* labelsieve is
connected, then connects it through Label Studio's own *Connect model* call (``POST /api/ml``) and measures:

* **connect s**: the ``POST /api/ml`` call (Label Studio's ``/health`` + ``/setup`` to labelsieve inside);
* **head live s**: connect → the project's ``model_version`` is labelsieve's and ``/next`` serves its rank 0;
* **sync done s**: connect → labelsieve's first contact has stored every task (``GET /projects/{id}``);
* **project read s**: Label Studio's ``GET /api/projects/{id}/`` with all its counters, and with ``?include=id``
  (what ``/setup`` asks now), median of 5; and labelsieve's ``/setup`` check (``read_project``) alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import machine_line  # noqa: E402
from tests.e2e.helpers import TEXT_CONFIG, backend_status, text_dataset  # noqa: E402
from tests.harness.labelstudio import LabelStudioServer, start_label_studio  # noqa: E402
from tests.harness.postgres import start_postgres  # noqa: E402
from tests.reliability.server import ServerProcess  # noqa: E402

EXTRA = {"learner": "text", "strategy": "margin", "min_annotations": 10, "queue_depth": 100}


def create_project(ls: LabelStudioServer, n: int, k: int, chunk: int = 20000) -> tuple[int, list[int], float]:
    items = text_dataset(n, seed=n)
    pid = int(ls.api("POST", "/api/projects", json={"title": f"first contact {n}",
                                                    "label_config": TEXT_CONFIG}).json()["id"])
    started = time.perf_counter()
    ids: list[int] = []
    for start in range(0, n, chunk):
        response = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true",
                          json=[{"text": t} for t, _ in items[start:start + chunk]], timeout=3600)
        response.raise_for_status()
        ids.extend(response.json()["task_ids"])
    for tid, (_, label) in zip(ids[:k], items[:k], strict=True):
        result = [{"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
        ls.api("POST", f"/api/tasks/{tid}/annotations/", json={"result": result}).raise_for_status()
    return pid, ids, time.perf_counter() - started


def timed(fn, repeat: int = 5) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure_connect(ls: LabelStudioServer, server: ServerProcess, n: int, k: int, pid: int,
                    sync_timeout: float, annotator: str | None = None) -> dict:
    """``annotator``: the token that asks ``/next`` (a fresh user per connect: Label Studio keeps serving a user the
    task it locked for them, so an earlier connect's ``/next`` would answer for this one)."""
    from labelsieve.service.setup_check import read_project

    counters = timed(lambda: ls.api("GET", f"/api/projects/{pid}/").raise_for_status())
    cheap = timed(lambda: ls.api("GET", f"/api/projects/{pid}/", params={"include": "id"}).raise_for_status())
    check = timed(lambda: read_project(ls.url, ls.token, pid))
    started = time.perf_counter()
    connected = ls.api("POST", "/api/ml", json={"project": pid, "url": server.url, "title": "labelsieve",
                                                "extra_params": EXTRA})
    connect_s = time.perf_counter() - started
    assert connected.status_code == 201, connected.text
    head_s = sync_s = first_pool = load_head = None
    deadline = started + sync_timeout
    while time.perf_counter() < deadline and (head_s is None or sync_s is None):
        if head_s is None:
            version = ls.api("GET", f"/api/projects/{pid}/",
                             params={"include": "id,model_version"}).json().get("model_version")
            if version and version.startswith("labelsieve-v"):
                status = backend_status(server.url, pid)
                served = int((ls.api_as(annotator, "GET", f"/api/projects/{pid}/next") if annotator
                              else ls.api("GET", f"/api/projects/{pid}/next")).json()["id"])
                if status["last_round"] and served == status["last_round"]["batch"][0]:
                    head_s = time.perf_counter() - started
                    first_pool = status["last_round"]["n_pool"]
                    load_head = os.getloadavg()[0]
        if sync_s is None and (backend_status(server.url, pid).get("first_contact") or {}).get("state") == "done":
            sync_s = time.perf_counter() - started
        time.sleep(0.2)
    contact = backend_status(server.url, pid)["first_contact"]
    row = {"n": n, "k": k, "connect": connect_s, "head": head_s, "sync": sync_s, "first_pool": first_pool,
           "pages": contact["pages"], "counters": counters, "cheap": cheap, "check": check,
           "load": os.getloadavg()[0], "load_head": load_head}
    print(row, flush=True)
    return row


def measure_setup(ls: LabelStudioServer, server: ServerProcess, n: int, pid: int) -> dict:
    """The project read with and without counters, and labelsieve's first ``/setup`` of the project (its check of
    Label Studio not cached yet; first contact off)."""
    from labelsieve.service.setup_check import read_project

    counters = timed(lambda: ls.api("GET", f"/api/projects/{pid}/").raise_for_status())
    cheap = timed(lambda: ls.api("GET", f"/api/projects/{pid}/", params={"include": "id"}).raise_for_status())
    check = timed(lambda: read_project(ls.url, ls.token, pid))
    started = time.perf_counter()
    answer = httpx.post(f"{server.url}/setup", json={"project": f"{pid}.0", "schema": TEXT_CONFIG,
                                                     "extra_params": EXTRA}, timeout=60)
    setup_s = time.perf_counter() - started
    row = {"n": n, "setup": setup_s, "setup_status": answer.status_code, "counters": counters, "cheap": cheap,
           "check": check, "load_setup": os.getloadavg()[0]}
    print(row, flush=True)
    return row


FLAG = "fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short"


def burners(n: int) -> list[subprocess.Popen]:
    """``n`` busy loops (``python -c 'while 1: pass'``), stopped by PID in :func:`stop_burners`."""
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def stop_burners(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
        proc.wait(timeout=30)


def disconnect(ls: LabelStudioServer, pid: int) -> None:
    """Undo a connect, so that the same Label Studio project can be connected again to a fresh labelsieve: the ML
    backend, labelsieve's predictions and the project's ``model_version``."""
    for backend in ls.api("GET", "/api/ml", params={"project": pid}).json():
        ls.api("DELETE", f"/api/ml/{backend['id']}").raise_for_status()
    ls.api("POST", "/api/dm/actions", params={"id": "delete_tasks_predictions", "project": pid},
           json={"selectedItems": {"all": True, "excluded": []}}, timeout=600).raise_for_status()
    ls.api("PATCH", f"/api/projects/{pid}/", json={"model_version": ""}).raise_for_status()


def fresh_server(tmp: Path, name: str, ls: LabelStudioServer, *, contact: bool, page_size: int,
                 push: str = "auto", first_page_size: int = 250) -> ServerProcess:
    server = ServerProcess(tmp / name, f"sqlite:///{tmp / name}.sqlite3", LABEL_STUDIO_URL=ls.url,
                           LABEL_STUDIO_API_KEY=ls.token, LABELSIEVE_LOG_LEVEL="INFO",
                           LABELSIEVE_FIRST_CONTACT_FIRST_PAGE_SIZE=str(first_page_size),
                           LABELSIEVE_FIRST_CONTACT="true" if contact else "false",
                           LABELSIEVE_PREDICTION_IMPORT=push,
                           LABELSIEVE_FIRST_CONTACT_PAGE_SIZE=str(page_size)).start(timeout=900)
    # load the learners once (a project Label Studio lacks: its first contact fails quietly)
    httpx.post(f"{server.url}/setup", json={"project": "999999.0", "schema": TEXT_CONFIG, "extra_params": EXTRA},
               timeout=300).raise_for_status()
    return server


def push_line(server: ServerProcess) -> str:
    """How the first head went into Label Studio (the publisher's log line)."""
    for line in server.log_path.read_text(errors="replace").splitlines():
        if "pushed" in line and "predictions of" in line:
            return line.split(": ", 2)[-1][:160]
    return ""


def run_reused(args: argparse.Namespace, tmp: Path) -> list[dict]:
    """``--flags``: one project per Label Studio database, connected once per flag value (Label Studio restarted
    with the flag on or off, labelsieve fresh each time); ``--burners``: ``/setup`` beside that many busy loops."""
    pg = start_postgres() if args.postgres else None
    ls = start_label_studio(tmp / "files", database=pg.create_database() if pg else None,
                            env={FLAG: "true"} if args.flags[0] == "on" else None)
    rows: list[dict] = []
    try:
        n = args.sizes[0]
        pid, ids, import_s = create_project(ls, n, args.annotations)
        print(f"{n} tasks: project {pid} imported and {args.annotations} annotated in {import_s:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
        for i, flag in enumerate(args.flags):
            on = flag == "on"
            if on != (ls.extra_env.get(FLAG) == "true"):
                ls.extra_env[FLAG] = "true" if on else "false"
                ls.restart()
            # off-bulk: flag off and labelsieve's push forced to one bulk import (no single-request lead)
            db = f"{'PostgreSQL' if pg else 'SQLite'}, flag {'on' if on else 'off'}" + \
                (", push bulk (no lead)" if flag == "off-bulk" else "")
            row: dict = {"setup": None}
            if i == 0 or not args.setup_once:
                server = fresh_server(tmp, f"setup-{i}", ls, contact=False, page_size=args.page_size)
                busy = burners(args.burners)
                try:
                    row = measure_setup(ls, server, n, pid)
                finally:
                    stop_burners(busy)
                    server.stop()
            row.update(n=n, db=db, burners=args.burners)
            server = fresh_server(tmp, f"contact-{i}", ls, contact=True, page_size=args.page_size,
                                  push="bulk" if flag == "off-bulk" else "auto", first_page_size=args.first_page_size)
            try:
                contact = measure_connect(ls, server, n, args.annotations, pid, args.sync_timeout,
                                          annotator=ls.create_user(f"annotator{i}@example.com"))
                row.update({key: contact[key] for key in ("k", "connect", "head", "sync", "first_pool", "pages",
                                                          "load_head")})
                row["push"] = push_line(server)
            finally:
                server.stop()
            row["import"] = import_s
            rows.append(row)
            print(row, flush=True)
            disconnect(ls, pid)
    except Exception:  # noqa: BLE001 - the rows measured so far are still written
        traceback.print_exc()
    finally:
        ls.stop()
        if pg is not None:
            pg.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--annotations", type=int, default=12)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--first-page-size", type=int, default=250)
    parser.add_argument("--setup-only", action="store_true", help="measure /setup and the project read only")
    parser.add_argument("--setup-once", action="store_true", help="with --flags: /setup for the first value only")
    parser.add_argument("--flags", nargs="+", choices=["off", "on", "off-bulk"],
                        help="one project (the first size), connected once per value of Label Studio's "
                             "memory-efficient import flag; /setup measured beside --burners busy loops")
    parser.add_argument("--postgres", action="store_true", help="Label Studio on PostgreSQL (with --flags)")
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--sync-timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/first-contact.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="first-contact-"))
    if args.flags:
        rows = run_reused(args, tmp)
        write(args, flag_table(rows))
        return
    ls = start_label_studio(tmp / "files")
    server = ServerProcess(tmp / "labelsieve", f"sqlite:///{tmp / 'labelsieve.sqlite3'}", LABEL_STUDIO_URL=ls.url,
                           LABEL_STUDIO_API_KEY=ls.token, LABELSIEVE_LOG_LEVEL="INFO",
                           LABELSIEVE_FIRST_CONTACT="false" if args.setup_only else "true",
                           LABELSIEVE_FIRST_CONTACT_PAGE_SIZE=str(args.page_size)).start()
    try:  # load the learners once (a project Label Studio lacks: its first contact fails quietly)
        httpx.post(f"{server.url}/setup", json={"project": "999999.0", "schema": TEXT_CONFIG, "extra_params": EXTRA},
                   timeout=300).raise_for_status()
        rows = []
        for n in args.sizes:
            pid, ids, import_s = create_project(ls, n, args.annotations)
            print(f"{n} tasks: project {pid} imported and {args.annotations} annotated in {import_s:.1f} s",
                  flush=True)
            if args.setup_only:
                rows.append(measure_setup(ls, server, n, pid))
            else:
                rows.append(measure_connect(ls, server, n, args.annotations, pid, args.sync_timeout))
    finally:
        server.stop()
        ls.stop()
    if args.setup_only:
        lines = ["| tasks | labelsieve /setup s (HTTP) | project GET with counters s | with ?include=id s | "
                 "/setup check s |", "|---|---|---|---|---|"]
        lines += [f"| {r['n']} | {r['setup']:.2f} ({r['setup_status']}) | {r['counters']:.3f} | {r['cheap']:.3f} | "
                  f"{r['check']:.3f} |" for r in rows]
    else:
        lines = ["| tasks | labels before connect | connect s | head live s (pool ranked) | sync done s (pages) | "
                 "project GET with counters s | with ?include=id s | /setup check s |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['n']} | {r['k']} | {r['connect']:.2f} | {head_cell(r)} | {sync_cell(r)} | "
                  f"{r['counters']:.3f} | {r['cheap']:.3f} | {r['check']:.3f} |" for r in rows]
    write(args, lines)


def head_cell(r: dict) -> str:
    return f"{r['head']:.1f} ({r['first_pool']})" if r["head"] is not None else "never"


def sync_cell(r: dict) -> str:
    return f"{r['sync']:.1f} ({r['pages']})" if r["sync"] is not None else "never"


def flag_table(rows: list[dict]) -> list[str]:
    lines = ["| tasks | Label Studio | labels before connect | task import s | connect s | head live s (pool ranked) | "
             "sync done s (pages) | /setup s beside burners (HTTP); GET with counters, ?include=id, /setup check s; "
             "load | load at head | first push (log) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['n']} | {r['db']} | {r['k']} | {r['import']:.1f} | {r['connect']:.2f} | {head_cell(r)} | "
              f"{sync_cell(r)} | {setup_cell(r)} | {r['load_head'] or float('nan'):.1f} | {r['push']} |" for r in rows]
    return lines


def setup_cell(r: dict) -> str:
    if r.get("setup") is None:
        return "-"
    return (f"{r['setup']:.2f} ({r['setup_status']}, {r['burners']} burners); {r['counters']:.2f}, {r['cheap']:.2f}, "
            f"{r['check']:.2f}; {r['load_setup']:.1f}")


def write(args: argparse.Namespace, table: list[str]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, page size "
             f"{args.page_size}, first page {args.first_page_size}\n",
             f"`{' '.join(sys.argv)}` · {machine_line()} · `{uptime}` (shared machine)\n",
             *table]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
