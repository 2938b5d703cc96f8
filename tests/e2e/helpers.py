"""A small labelled text set built from templates, and Label Studio API helpers for the e2e tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from tests.harness.labelstudio import LabelStudioServer

TEXT_CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="topic" toName="text" choice="single">
<Choice value="sports"/><Choice value="weather"/><Choice value="food"/></Choices></View>"""

_WORDS = {
    "sports": ["goal", "match", "team", "striker", "referee", "league", "tennis", "coach", "stadium", "score"],
    "weather": ["rain", "storm", "sunny", "forecast", "wind", "snow", "cloudy", "temperature", "fog", "thunder"],
    "food": ["pasta", "recipe", "bread", "cheese", "soup", "dinner", "spicy", "bakery", "salad", "chef"],
}
_TEMPLATES = ["the {a} and the {b} were in the news today", "people talked about {a} after the {b}",
              "a story on {a}, with {b} and more", "yesterday the {a} surprised everyone near the {b}"]


def text_dataset(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    labels = list(_WORDS)
    out = []
    for i in range(n):
        label = labels[i % 3]
        a, b = rng.choice(_WORDS[label], size=2, replace=False)
        out.append((str(rng.choice(_TEMPLATES)).format(a=a, b=b), label))
    return out


def create_project(ls: LabelStudioServer, title: str, items: list[tuple[str, str]]) -> tuple[int, dict[int, str]]:
    project = ls.api("POST", "/api/projects", json={"title": title, "label_config": TEXT_CONFIG}).json()
    pid = int(project["id"])
    response = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=[{"text": t} for t, _ in items])
    assert response.status_code == 201, response.text
    ids = response.json()["task_ids"]
    return pid, {int(tid): label for tid, (_, label) in zip(ids, items, strict=True)}


def submit(ls: LabelStudioServer, task_id: int, result: list[dict[str, Any]]) -> int:
    """Submit an annotation (any result) as an annotator would: when Label Studio answers 5xx (its SQLite "database is
    locked" while another writer, e.g. a prune or our bulk import, holds the lock), look whether it was stored, and
    submit again if not. The annotation's id."""
    for _attempt in range(6):
        response = ls.api("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result})
        if response.status_code == 201:
            return int(response.json()["id"])
        assert response.status_code >= 500, response.text  # a 4xx is a real refusal: never retried
        stored = ls.api("GET", f"/api/tasks/{task_id}/annotations/")
        if stored.status_code == 200 and stored.json():
            return int(stored.json()[-1]["id"])
        time.sleep(1.0)  # Label Studio's lock, not a thread of ours: the annotator's own pause before resubmitting
    raise AssertionError(f"Label Studio refused the annotation of task {task_id}: {response.text[:500]}")


def annotate(ls: LabelStudioServer, task_id: int, label: str) -> int:
    """Submit a single-label ``topic`` annotation (:data:`TEXT_CONFIG`)."""
    return submit(ls, task_id, [{"from_name": "topic", "to_name": "text", "type": "choices",
                                 "value": {"choices": [label]}}])


def project(ls: LabelStudioServer, pid: int) -> dict[str, Any]:
    return dict(ls.api("GET", f"/api/projects/{pid}/").json())


def wait_version(ls: LabelStudioServer, pid: int, *, other_than: str | None, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = project(ls, pid).get("model_version") or ""
        if version.startswith("labelsieve-v") and version != other_than:
            return str(version)
        time.sleep(0.5)
    raise AssertionError(f"project {pid} never got a new labelsieve model_version (still {version!r})")


def prediction_rows(ls: LabelStudioServer, pid: int, version: str) -> dict[int, dict[str, Any]]:
    """task id → Label Studio's stored prediction of ``version`` (``GET /api/predictions/``, every page)."""
    out: dict[int, dict[str, Any]] = {}
    page = 1
    while True:
        body = ls.api("GET", "/api/predictions/", params={"project": pid, "page": page, "page_size": 1000}).json()
        rows = body["results"] if isinstance(body, dict) else body
        out.update({int(row["task"]): row for row in rows if row["model_version"] == version})
        if isinstance(body, list) or not body.get("next"):
            return out
        page += 1


def predictions(ls: LabelStudioServer, pid: int, version: str) -> dict[int, tuple[float | None, str | None]]:
    """task id → (score or None when it has none, pre-ticked label or None when the prediction carries the score
    alone)."""
    out: dict[int, tuple[float | None, str | None]] = {}
    for tid, row in prediction_rows(ls, pid, version).items():
        result = row["result"]
        score = None if row.get("score") is None else float(row["score"])
        out[tid] = (score, result[0]["value"]["choices"][0] if result else None)
    return out


def connect_backend(ls: LabelStudioServer, pid: int, url: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Connect labelsieve as the project's ML backend (``POST /api/ml``); the created backend's JSON.

    Label Studio gives ``/setup`` 3 s; on a busy 2-core box the first one can exceed it, so retry twice."""
    for _ in range(3):
        connected = ls.api("POST", "/api/ml", json={"project": pid, "url": url, "title": "labelsieve",
                                                    "extra_params": extra})
        if connected.status_code == 201:
            break
    assert connected.status_code == 201, connected.text
    return dict(connected.json())


def setup_and_connect(ls: LabelStudioServer, url: str, pid: int, config: str,
                      extra: dict[str, Any]) -> dict[str, Any]:
    """One ``/setup`` of our own first (the first one loads the learners; Label Studio allows its own 3 s), then
    :func:`connect_backend`."""
    httpx.post(f"{url}/setup", json={"project": f"{pid}.0", "schema": config, "extra_params": extra},
               timeout=300).raise_for_status()
    return connect_backend(ls, pid, url, extra)


def label_and_wait(ls: LabelStudioServer, url: str, pid: int, config: str, extra: dict[str, Any],
                   results: dict[int, list[dict[str, Any]]], *, timeout: float = 300.0) -> tuple[dict[str, Any], str]:
    """Connect labelsieve to the project (:func:`setup_and_connect`), submit one annotation per task of ``results``
    (task id → Label Studio result), and wait for the first labelsieve model version Label Studio serves:
    ``(the ML backend's JSON, that version)``."""
    connected = setup_and_connect(ls, url, pid, config, extra)
    for task_id, result in results.items():
        submit(ls, task_id, result)
    return connected, wait_version(ls, pid, other_than=None, timeout=timeout)


def wait_issues(backend_url: str, pid: int, version: str, timeout: float = 180.0) -> dict[str, Any]:
    """labelsieve's ``GET /projects/{id}/issues`` once the scorecard of ``version`` is ready and pushed for review."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{backend_url}/projects/{pid}/issues", timeout=30).json()
        if body["status"] == "ready" and body["scored_version"] == version and body.get("review"):
            return dict(body)
        time.sleep(0.5)
    raise AssertionError(f"no scorecard for {version} of project {pid}: {body}")


def issues_tab(ls: LabelStudioServer, pid: int, view_id: int) -> set[int]:
    """The task ids the Data Manager tab ``labelsieve: label issues`` lists."""
    views = ls.api("GET", "/api/dm/views/", params={"project": pid}).json()
    view = next(v for v in views if v["id"] == view_id)
    assert view["data"]["title"] == "labelsieve: label issues"
    listed = ls.api("GET", "/api/tasks/", params={"project": pid, "view": view_id, "page_size": 500}).json()
    return {int(t["id"]) for t in (listed["tasks"] if isinstance(listed, dict) else listed)}


def delete_annotation(ls: LabelStudioServer, annotation_id: int) -> None:
    """Delete in Label Studio; on SQLite it answers 500 "database is locked" while our bulk import writes."""
    for _ in range(10):
        deleted = ls.api("DELETE", f"/api/annotations/{annotation_id}/")
        if deleted.status_code != 500:
            break
        time.sleep(1.0)
    assert deleted.status_code == 204, deleted.text[:300]


def backend_status(backend_url: str, pid: int) -> dict[str, Any]:
    """labelsieve's ``GET /projects/{id}`` (labelled tasks, versions, class counts...)."""
    return dict(httpx.get(f"{backend_url}/projects/{pid}", timeout=30).json())


def wait_labeled(backend_url: str, pid: int, expected: int, timeout: float = 30.0) -> int:
    """labelsieve's labelled-task count once it equals ``expected`` (or the last one seen at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        count = int(backend_status(backend_url, pid)["labeled_tasks"])
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.3)


def served_in_our_order(ls: LabelStudioServer, pid: int, truth: dict[int, str], version: str, labelled: set[int],
                        annotate_task: Callable[[LabelStudioServer, int, str], int] = annotate,
                        n: int = 3) -> list[int]:
    """Take ``n`` consecutive tasks from the label stream; each must be the lowest score left. Annotates them."""
    ours = {tid: p for tid, p in predictions(ls, pid, version).items() if tid not in labelled}
    served = []
    for _ in range(n):
        task_id = int(ls.api("GET", f"/api/projects/{pid}/next").json()["id"])
        lowest = min(score for score, _ in ours.values())
        assert ours[task_id][0] == lowest, f"served task {task_id} score {ours[task_id][0]}, lowest {lowest}"
        annotate_task(ls, task_id, truth[task_id])
        ours.pop(task_id)
        served.append(task_id)
    return served


def first_headless_round(service: Any, ls: LabelStudioServer, pid: int, truth: dict[int, str],
                         extra: dict[str, Any], annotate_task: Callable[[LabelStudioServer, int, str], int] = annotate,
                         n_first: int = 30) -> tuple[Any, list[int], list[int], Any]:
    """A headless :class:`LiveLoop` set up on the project, its first ``n_first`` tasks labelled in Label Studio,
    and one sync: ``(loop, task order, annotation ids, the sync's summary)``."""
    import copy

    from labelsieve.commands.loop import LiveLoop

    live = LiveLoop(service=service, project_id=pid, extra_params=copy.deepcopy(extra))
    live.setup()
    order = list(truth)
    annotation_ids = [annotate_task(ls, tid, truth[tid]) for tid in order[:n_first]]
    return live, order, annotation_ids, live.sync_once()


def delete_and_sync(live: Any, service: Any, ls: LabelStudioServer, pid: int, annotation_id: int) -> tuple[str, set]:
    """Delete an annotation in Label Studio, sync once: ``(the sync's status, task ids labelsieve trains on)``."""
    from labelsieve.storage import crud
    from labelsieve.storage.db import session_scope

    ls.api("DELETE", f"/api/annotations/{annotation_id}/")
    status = live.sync_once().status
    with session_scope(service.engine) as session:
        kept = {task.id for task, _ in crud.labeled_examples(session=session, project_id=pid)}
    return status, kept


def image_project(ls: LabelStudioServer, folder_name: str, title: str, config: str, images: list[Any],
                  ) -> tuple[int, list[int]]:
    """A project of PNG ``images`` served by a Label Studio Local Storage sync: its id, and the task ids in image
    order."""
    folder = ls.files_root / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    for k, image in enumerate(images):
        image.save(folder / f"img_{k:03d}.png")
    pid = int(ls.api("POST", "/api/projects", json={"title": title, "label_config": config}).json()["id"])
    storage = ls.api("POST", "/api/storages/localfiles", json={
        "project": pid, "path": str(folder), "regex_filter": r".*\.png", "use_blob_urls": True, "title": folder_name})
    assert storage.status_code == 201, storage.text
    assert ls.api("POST", f"/api/storages/localfiles/{storage.json()['id']}/sync").status_code == 200
    tasks = ls.api("GET", f"/api/projects/{pid}/export", params={"exportType": "JSON", "download_all_tasks": "true"})
    by_name = {t["data"]["image"].rsplit("/", 1)[-1]: int(t["id"]) for t in tasks.json()}
    return pid, [by_name[f"img_{k:03d}.png"] for k in range(len(images))]
