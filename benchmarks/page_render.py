"""Render time of the live project page at 10k and 100k tasks (no test asserts it; this measures it).

For each size: a project of N vector tasks (64-d, 10 classes) in a fresh SQLite database, trained for
``--versions`` model versions by the real loop (vector learner, margin), each followed by ``--per-round``
labels taken from the served ranking with the serving model's prediction recorded (as webhook intake does).
Then, in this process, medians of ``--repeats`` renders of ``GET /projects/{id}/page`` through the app:

- cold: a fresh renderer (no cached diagnosis, plots or HTML; the serving model is loaded already);
- new label: one more annotation arrives (the HTML and the scored plots are stale; the diagnosis is not);
- cached: nothing changed (fingerprint query and the cached HTML).

    .venv/bin/python benchmarks/page_render.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from labelsieve.api.app import create_app
from labelsieve.pages.render import PageRenderer
from labelsieve.settings import Settings
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, print_table  # noqa: E402

CONFIG = ('<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single">'
          + "".join(f'<Choice value="{d}"/>' for d in range(10)) + "</Choices></View>")
PROJECT = 1


def build_project(client: TestClient, n: int, versions: int, per_round: int, rng: np.random.Generator) -> None:
    service = client.app.state.service
    centres = rng.normal(size=(10, 64)) * 2.0
    y = rng.integers(0, 10, size=n)
    x = centres[y] + rng.normal(size=(n, 64))
    extra = {"learner": "vector", "strategy": "margin", "batch_size": per_round}
    service.loop.setup_project(project_id=PROJECT, label_config=CONFIG, extra_params=extra)
    with session_scope(service.engine) as session:
        crud.upsert_tasks(session=session, project_id=PROJECT,
                          tasks=[{"id": i + 1, "data": {"image": x[i].round(3).tolist()}} for i in range(n)])
    config = service.loop.config_of(service.loop.project(PROJECT))
    next_id, labelled = 1, set()
    first = [int(i) + 1 for i in rng.choice(n, size=per_round * 2, replace=False)]
    for round_ in range(versions + 1):
        with session_scope(service.engine) as session:
            project = crud.get_project(session=session, project_id=PROJECT)
            if round_ == 0:
                batch, predicted = first, {}
            else:
                ranked = rankings.ranked_tasks(session=session, project_id=PROJECT,
                                                 version=project.model_version)
                picks = [p for p in ranked if p.task_id not in labelled][:per_round]
                batch, predicted = [p.task_id for p in picks], {p.task_id: p for p in picks}
            for task_id in batch:
                label = str(y[task_id - 1])
                row = crud.upsert_annotation(session=session, project_id=PROJECT, config=config, annotation={
                    "id": next_id, "task": task_id, "lead_time": 3.0,
                    "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                "value": {"choices": [label]}}]})
                if task_id in predicted:
                    row.predicted_labels, row.predicted_version = predicted[task_id].labels, project.model_version
                    session.add(row)
                next_id += 1
                labelled.add(task_id)
        if round_ < versions:
            outcome = service.loop.retrain(PROJECT, force=True)
            assert outcome.status == "trained", outcome


def add_label(client: TestClient, annotation_id: int) -> None:
    service = client.app.state.service
    config = service.loop.config_of(service.loop.project(PROJECT))
    with session_scope(service.engine) as session:
        pool = crud.pool_tasks(session=session, project_id=PROJECT)[:1]
        crud.upsert_annotation(session=session, project_id=PROJECT, config=config, annotation={
            "id": annotation_id, "task": pool[0].id, "result": [{"from_name": "label", "to_name": "image",
                                                                "type": "choices", "value": {"choices": ["0"]}}]})


def timed_get(client: TestClient) -> float:
    started = time.perf_counter()
    response = client.get(f"/projects/{PROJECT}/page")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and "learning-curve" in response.text
    return elapsed


def measure(n: int, args: argparse.Namespace) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="labelsieve-page-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), torch_threads=1, start_workers=False, label_studio_url=None,
                            label_studio_api_key=None)
        with TestClient(create_app(settings)) as client:
            started = time.perf_counter()
            build_project(client, n, args.versions, args.per_round, np.random.default_rng(0))
            built = time.perf_counter() - started
            timed_get(client)  # loads the serving model and imports matplotlib once, as a running server has
            cold, fresh, cached, parts = [], [], [], []
            for k in range(args.repeats):
                client.app.state.pages = PageRenderer()
                cold.append(timed_get(client))
                parts.append(client.app.state.pages.last_timing)
                add_label(client, 10_000_000 + k)
                fresh.append(timed_get(client))
                cached.append(timed_get(client))
    diagnosis = median([p["diagnosis"] for p in parts])
    return [f"{n:,}", str(args.versions), f"{built:.0f}", f"{median(cold):.3f}", f"{diagnosis:.3f}",
            f"{median(fresh):.3f}", f"{median(cached):.4f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(n, args) for n in args.sizes]
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    print_table(f"Project page render (median of {args.repeats}; load average {load} on {os.cpu_count()} cores)",
                ["tasks", "versions", "setup s", "cold s", "of which diagnosis s", "after a new label s",
                 "unchanged s"], rows)


if __name__ == "__main__":
    main()
