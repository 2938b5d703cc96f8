"""Observer mode against a real Label Studio 1.23.2: a boxes project whose boxes come from another backend.

Tasks are imported through label-studio-sdk with predictions of ``yolo-v8`` (a score on every box, some images
with no detection); labelsieve is connected through Label Studio's own Connect-model call with ``observe``. It
trains nothing, pushes the head in the order of the per-box aggregation (sum of binary entropies) carrying the
other backend's boxes, ``/next`` serves the most uncertain image with those boxes, and an annotation or a new
prediction of the other backend re-ranks the queue.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from labelsieve.detection.observer import observer_uncertainty
from tests.e2e.helpers import backend_status, connect_backend, project
from tests.harness.labelstudio import LabelStudioServer

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="car"/><Label value="person"/></RectangleLabels></View>"""
OTHER = "yolo-v8"
#: per image: the other backend's box scores ([]: it found nothing there)
BOX_SCORES = [[0.97, 0.95], [0.55], [0.9, 0.6, 0.52], [], [0.99], [0.7, 0.65], [0.51, 0.5], [0.93], [], [0.8, 0.3],
              [0.98, 0.96, 0.94], [0.62]]
EXTRA = {"observe": OTHER, "observe_poll_seconds": 1, "queue_depth": 8}


def region(score: float, k: int, label: str = "car") -> dict[str, Any]:
    return {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 640,
            "original_height": 480, "score": score,
            "value": {"x": 5.0 + 20 * k, "y": 10.0, "width": 15.0, "height": 20.0, "rotation": 0,
                      "rectanglelabels": [label]}}


def result_of(scores: list[float]) -> list[dict[str, Any]]:
    return [region(s, k) for k, s in enumerate(scores)]


def wait_observer_version(ls: LabelStudioServer, pid: int, *, other_than: str | None, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    version = ""
    while time.monotonic() < deadline:
        version = project(ls, pid).get("model_version") or ""
        if version.startswith("labelsieve-observer-") and version != other_than:
            return version
        time.sleep(0.3)
    raise AssertionError(f"project {pid} never switched to a new labelsieve observer version (still {version!r})")


def scores_of(ls: LabelStudioServer, pid: int, version: str) -> dict[int, float]:
    """task id -> score of the project's predictions of ``version``."""
    rows = ls.api("GET", "/api/predictions/", params={"project": pid}).json()
    return {int(r["task"]): float(r["score"]) for r in rows if r["model_version"] == version}


def expected_order(results: dict[int, list[dict[str, Any]]]) -> list[int]:
    ids = sorted(results)
    uncertainty = observer_uncertainty([results[t] for t in ids], from_name="box", aggregation="sum")
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-uncertainty[i], ids[i]))]


def test_observer_mode_ranks_another_backends_boxes(label_studio: LabelStudioServer, labelsieve_server) -> None:
    from label_studio_sdk import LabelStudio

    ls = label_studio
    sdk = LabelStudio(base_url=ls.url, api_key=ls.token)
    pid = int(sdk.projects.create(title="e2e observer boxes", label_config=CONFIG).id)
    imported = sdk.projects.import_tasks(pid, return_task_ids=True, request=[
        {"data": {"image": f"/data/local-files/?d=observer/{i}.jpg"},
         "predictions": [{"model_version": OTHER, "score": 0.5, "result": result_of(scores)}]}
        for i, scores in enumerate(BOX_SCORES)])
    ids = [int(t) for t in imported.task_ids]
    results = {tid: result_of(scores) for tid, scores in zip(ids, BOX_SCORES, strict=True)}
    order = expected_order(results)

    connect_backend(ls, pid, labelsieve_server.url, EXTRA)
    version = wait_observer_version(ls, pid, other_than=None)
    assert project(ls, pid)["sampling"] == "Uncertainty sampling"
    ours = scores_of(ls, pid, version)
    head = sorted(ours, key=lambda t: ours[t])
    assert head == order[:EXTRA["queue_depth"]], "the head follows the sum of per-box binary entropies"

    served = ls.api("GET", f"/api/projects/{pid}/next").json()
    assert served["id"] == order[0], "/next serves the most uncertain image"
    shown = [p for p in served["predictions"] if p["model_version"] == version]
    assert [r["value"] for r in shown[0]["result"]] == [r["value"] for r in results[order[0]]], \
        "annotators see the other backend's boxes (carried over)"
    assert [r["score"] for r in shown[0]["result"]] == BOX_SCORES[ids.index(order[0])]

    status = backend_status(labelsieve_server.url, pid)
    assert status["versions"] == [] and status["model_version"] is None, "observer mode trains nothing"
    assert httpx.get(f"{labelsieve_server.url}/versions", params={"project": str(pid)}).json()["versions"] == []
    observer = status["observer"]
    assert observer.get("versions") == [OTHER] and observer["tasks_observed"] == len(ids), observer
    assert observer["tasks_scored"] == len(ids) - 2 and observer["regions_scored"] == sum(map(len, BOX_SCORES))
    page = httpx.get(f"{labelsieve_server.url}/projects/{pid}/page", timeout=60)
    assert page.status_code == 200 and "Observer mode" in page.text and f"<b>{OTHER}</b>" in page.text

    # an annotation: the labelled image leaves the queue, the next one moves up
    box = region(1.0, 0)
    box.pop("score")
    created = ls.api("POST", f"/api/tasks/{order[0]}/annotations/", json={"result": [box]})
    assert created.status_code == 201, created.text[:300]
    after_annotation = wait_observer_version(ls, pid, other_than=version)
    ours = scores_of(ls, pid, after_annotation)
    assert order[0] not in ours and min(ours, key=lambda t: ours[t]) == order[1]
    assert ls.api("GET", f"/api/projects/{pid}/next").json()["id"] == order[1]

    # the other backend stores a new, doubtful prediction on the image it was surest of: it goes to the front
    surest = order[-1]
    sdk.predictions.create(task=surest, model_version=OTHER, score=0.5, result=result_of([0.5, 0.5, 0.5, 0.5]))
    after_prediction = wait_observer_version(ls, pid, other_than=after_annotation)
    ours = scores_of(ls, pid, after_prediction)
    assert min(ours, key=lambda t: ours[t]) == surest, "a new prediction of the other backend re-ranks the queue"
    # the reads that follow are incremental: what changed, not a reread of the project (counts agree). One read may
    # reconcile (a full listing) when it lands between Label Studio storing the prediction (counted in the project's
    # model versions) and bumping the task's updated_at; the next poll (every second here) is incremental again.
    read = backend_status(labelsieve_server.url, pid)["observer"]["read"]
    deadline = time.monotonic() + 30
    while read["how"] != "incremental" and time.monotonic() < deadline:
        time.sleep(0.5)
        read = backend_status(labelsieve_server.url, pid)["observer"]["read"]
    assert read["how"] == "incremental", read
    theirs = [p for p in ls.api("GET", "/api/predictions/", params={"project": pid}).json()
              if p["model_version"] == OTHER]
    assert len(theirs) == len(ids) + 1 and {p["score"] for p in theirs} == {0.5}, \
        "the other backend's predictions are left as they were (labelsieve rewrites none of their scores)"
    # what labelsieve chose not to do, but Label Studio 1.23.2 allows: rescoring another backend's prediction in place
    patched = ls.api("PATCH", f"/api/predictions/{theirs[0]['id']}/", json={"score": 0.01})
    assert patched.status_code == 200 and patched.json()["result"] == theirs[0]["result"]
