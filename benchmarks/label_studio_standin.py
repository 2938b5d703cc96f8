"""A loopback stand-in for Label Studio, answered from memory (benchmarks/many_projects.py runs one in its process).

It answers what labelsieve asks of Label Studio for text projects: the project, the first contact's task pages (an
empty export: nothing was annotated before connecting), the prediction imports (the memory-efficient import probe
included), the ``PATCH`` that makes a version live (its time is recorded in ``live``) and the deletes of old versions;
:meth:`FakeLabelStudio.next_task` is what ``/next`` would serve. Label Studio's own cost of these calls is not
modelled.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np

PROJECT_PATH = re.compile(r"^/api/projects/(\d+)/(.*)$")


class FakeLabelStudio:
    """What labelsieve asks of Label Studio, answered from memory; ``live[(pid, version)]`` = PATCH time."""

    def __init__(self, tasks: dict[int, list[tuple[int, str, str]]]) -> None:
        self.tasks = tasks  # pid -> [(task id, text, label)]
        self.lock = threading.Lock()
        self.scores: dict[tuple[int, str], dict[int, float]] = {}
        self.current: dict[int, str] = {}
        self.live: dict[tuple[int, str], float] = {}
        self.labelled: dict[int, set[int]] = {pid: set() for pid in tasks}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> Any:
                size = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(size) or b"null")

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                self._answer(*owner.get(self.path))

            def do_POST(self) -> None:  # noqa: N802
                self._answer(*owner.post(self.path, self._body()))

            def do_PATCH(self) -> None:  # noqa: N802
                self._answer(*owner.patch(self.path, self._body()))

            def do_DELETE(self) -> None:  # noqa: N802
                self._answer(*owner.delete(self.path, self._body()))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def get(self, path: str) -> tuple[int, Any]:
        url = urlparse(path)
        found = PROJECT_PATH.match(url.path)
        if found and found.group(2) == "":
            pid = int(found.group(1))
            return 200, {"id": pid, "title": f"project {pid}", "task_number": len(self.tasks.get(pid, []))}
        if found and found.group(2).startswith("export"):
            return 200, []  # nothing was annotated before connecting
        if found and found.group(2).startswith("model-versions"):
            with self.lock:
                pid = int(found.group(1))
                return 200, {v: len(s) for (p, v), s in self.scores.items() if p == pid}
        if url.path == "/api/tasks/":
            query = parse_qs(url.query)
            pid, size = int(query["project"][0]), int(query["page_size"][0])
            after = json.loads(query["query"][0])["filters"]["items"][0]["value"]
            rows = [{"id": t, "data": {"text": s}} for t, s, _ in self.tasks[pid] if t > after][:size]
            return 200, {"tasks": rows, "total": len(rows)}
        return 200, []

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        found = PROJECT_PATH.match(urlparse(path).path)
        if found and found.group(2).startswith("import/predictions"):
            if any(int(p["task"]) < 0 for p in body):  # the import probe: the memory-efficient path
                return 400, {"detail": "task -1 not found in project"}
            with self.lock:
                for p in body:
                    self.scores.setdefault((int(found.group(1)), p["model_version"]), {})[int(p["task"])] = \
                        float(p["score"])
            return 201, {"created": len(body)}
        return 201, {"id": 1, "project": 0, "data": {}}

    def patch(self, path: str, body: Any) -> tuple[int, Any]:
        found = PROJECT_PATH.match(urlparse(path).path)
        if found and found.group(2) == "" and body and body.get("model_version"):
            pid = int(found.group(1))
            with self.lock:
                self.current[pid] = body["model_version"]
                self.live.setdefault((pid, body["model_version"]), time.perf_counter())
            return 200, {"id": pid, "title": f"project {pid}"}
        return 200, {"id": 1, "project": 0, "data": {}}

    def delete(self, path: str, body: Any) -> tuple[int, Any]:
        found = PROJECT_PATH.match(urlparse(path).path)
        if found and body:
            with self.lock:
                gone = self.scores.pop((int(found.group(1)), body.get("model_version")), {})
            return 200, {"deleted_predictions": len(gone)}
        return 200, {}

    def next_task(self, pid: int, rng: np.random.Generator, label: str | None = None) -> tuple[int, str, str]:
        """What ``/next`` serves: the live version's lowest score among unlabelled tasks, else a random one;
        ``label``: the first unlabelled task of that class (the seed labels)."""
        with self.lock:
            if label is not None:
                chosen_task = next(t for t in self.tasks[pid] if t[2] == label and t[0] not in self.labelled[pid])
                self.labelled[pid].add(chosen_task[0])
                return chosen_task
            done = self.labelled[pid]
            scores = self.scores.get((pid, self.current.get(pid, "")), {})
            ranked = [(s, t) for t, s in scores.items() if t not in done]
            by_id = {t: (t, s, label) for t, s, label in self.tasks[pid]}
            chosen = min(ranked)[1] if ranked else int(rng.choice([t for t in by_id if t not in done]))
            done.add(chosen)
            return by_id[chosen]

    def stop(self) -> None:
        self.server.shutdown()
