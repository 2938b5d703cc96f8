"""Boxes against a real Label Studio 1.23.2: generated shapes PNGs served through local-files storage, a
``<RectangleLabels>`` project whose annotations (drawn through the API) train labelsieve's detector in the loop.
With the default pre-annotation gate the head is pushed with scores and no boxes; with the gate off it is pushed
with a ``score`` on every box, ``/next`` serves labelsieve's ranking, boxes read back through Label Studio's API land
on the pixels they were sent at (within a pixel), and headless Chromium shows the labelling editor with the
predicted boxes (the screenshot is saved)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from labelsieve.detection.coords import percent_to_pixels
from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.targets import ImageTarget
from tests.detection.service_data import BOXES, DETECTOR, box_result
from tests.e2e.helpers import backend_status, connect_backend, wait_version
from tests.e2e.test_live_ner import session_cookie
from tests.e2e.test_live_queue import next_id, ranking
from tests.harness.chromium import Chromium
from tests.harness.labelstudio import LabelStudioServer

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

LABELS = ("square", "disc", "triangle", "cross")
DEPTH = 10
EXTRA = {"min_annotations": 20, "retrain_every": 100000, "queue_depth": DEPTH, "learner_params": DETECTOR}


def shapes_project(ls: LabelStudioServer, n: int) -> tuple[int, dict[int, ImageTarget]]:
    """A project whose tasks are ``n`` generated 64×64 shapes images from a Local Storage sync; task id → truth."""
    data = make_shapes(n, size=64, seed=11)
    folder = ls.files_root / f"shapes{n}"
    folder.mkdir(parents=True, exist_ok=True)
    by_name = {}
    for k, (image, target) in enumerate(zip(data.images, data.targets, strict=True)):
        image.save(folder / f"shape_{k:03d}.png")
        by_name[f"shape_{k:03d}.png"] = target
    pid = int(ls.api("POST", "/api/projects", json={"title": "boxes", "label_config": BOXES}).json()["id"])
    storage = ls.api("POST", "/api/storages/localfiles", json={
        "project": pid, "path": str(folder), "regex_filter": r".*\.png", "use_blob_urls": True, "title": "shapes"})
    assert storage.status_code == 201, storage.text
    assert ls.api("POST", f"/api/storages/localfiles/{storage.json()['id']}/sync").status_code == 200
    tasks = ls.api("GET", f"/api/projects/{pid}/export", params={"exportType": "JSON", "download_all_tasks": "true"})
    truth = {int(t["id"]): by_name[t["data"]["image"].rsplit("/", 1)[-1]] for t in tasks.json()}
    assert len(truth) == n
    return pid, truth


def annotate(ls: LabelStudioServer, task_id: int, target: ImageTarget) -> None:
    for _ in range(10):  # LS on SQLite answers 500 "database is locked" while a bulk import writes
        response = ls.api("POST", f"/api/tasks/{task_id}/annotations/", json={"result": box_result(target)})
        if response.status_code != 500:
            break
        time.sleep(0.5)
    assert response.status_code == 201, response.text[:300]


def pushed(ls: LabelStudioServer, pid: int, version: str) -> dict[int, dict]:
    rows, page = {}, 1
    while True:
        body = ls.api("GET", "/api/predictions/", params={"project": pid, "page": page, "page_size": 1000}).json()
        batch = body["results"] if isinstance(body, dict) else body
        rows.update({int(r["task"]): r for r in batch if r["model_version"] == version})
        if isinstance(body, list) or not body.get("next"):
            return rows
        page += 1


PROBE = """new Promise(resolve => {
  const deadline = Date.now() + 60000;
  const look = () => {
    const canvases = document.querySelectorAll('canvas').length;
    // the editor lists every region of the shown annotation in its outliner (one item per box)
    const regions = [...document.querySelectorAll('[class*="outliner-item"], [class*="region-item"]')]
      .map(e => e.innerText).filter(t => t && t.trim());
    if ((canvases && regions.length) || Date.now() > deadline) { resolve({canvases, regions}); }
    else { setTimeout(look, 500); }
  };
  look();
})"""


def editor_shot(ls: LabelStudioServer, pid: int, task_id: int, path: Path) -> dict:
    browser = Chromium().start()
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network.enable", "Page.enable"):
            browser.send(domain, session=session)
        browser.send("Network.setCookie", {"name": "sessionid", "value": session_cookie(ls), "url": ls.url},
                     session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": f"{ls.url}/projects/{pid}/data?task={task_id}"}, session=session)
        browser.wait_event("Page.loadEventFired", session=session, timeout=120)
        found = browser.send("Runtime.evaluate", {"expression": PROBE, "awaitPromise": True, "returnByValue": True},
                             session=session, timeout=90)
        time.sleep(1.0)  # let the canvas paint the boxes before the picture (the probe saw the regions listed)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        path.write_bytes(base64.b64decode(shot["data"]))
        return dict(found.get("result", {}).get("value") or {})
    finally:
        browser.stop()


def pixels(region: dict) -> np.ndarray:
    return percent_to_pixels(region, LABELS).as_array()


def test_boxes_trained_in_the_loop_head_scores_pixels_next_and_editor(label_studio, labelsieve_server,
                                                                     tmp_path) -> None:
    ls, server = label_studio, labelsieve_server
    pid, truth = shapes_project(ls, 60)
    httpx.post(f"{server.url}/setup", json={"project": f"{pid}.0", "schema": BOXES, "extra_params": EXTRA},
               timeout=300).raise_for_status()
    connected = connect_backend(ls, pid, server.url, EXTRA)
    first = list(truth)[:20]
    for tid in first:
        annotate(ls, tid, truth[tid])
    for tid in first[:3]:  # what Label Studio stores reads back on the pixels it was drawn at
        stored = ls.api("GET", f"/api/tasks/{tid}/annotations/").json()[0]["result"]
        np.testing.assert_allclose([pixels(r) for r in stored], truth[tid].boxes.reshape(-1, 4), atol=1.0)

    gated = wait_version(ls, pid, other_than=None, timeout=300)
    rows = pushed(ls, pid, gated)
    assert len(rows) == DEPTH and all(r["result"] == [] and 0 < r["score"] < 1 for r in rows.values()), \
        "without evidence for the gate the head carries its rank score and no boxes"

    open_gate = {**EXTRA, "preannotate_threshold": 0}
    httpx.post(f"{server.url}/setup", json={"project": f"{pid}.0", "schema": BOXES, "extra_params": open_gate},
               timeout=300).raise_for_status()
    assert ls.api("POST", f"/api/ml/{connected['id']}/train", json={}).status_code == 200
    version = wait_version(ls, pid, other_than=gated, timeout=300)
    order = [t for t in ranking(server, pid, version) if t not in set(first)]
    rows = pushed(ls, pid, version)
    assert set(rows) == set(order[:DEPTH]), "the head of labelsieve's ranking is pushed"
    assert sorted(rows, key=lambda t: rows[t]["score"]) == order[:DEPTH], "scores encode labelsieve's rank"
    assert backend_status(server.url, pid)["last_round"]["strategy"] == "task_uncertainty"

    ours = httpx.post(f"{server.url}/predict", timeout=120, json={
        "project": f"{pid}.0", "label_config": BOXES,
        "tasks": [{"id": t, "data": ls.api("GET", f"/api/tasks/{t}").json()["data"]} for t in order[:DEPTH]]}).json()
    boxes = 0
    for tid, sent in zip(order[:DEPTH], ours["results"], strict=True):
        back = rows[tid]["result"]
        assert len(back) == len(sent["result"])
        for read, ours_region in zip(back, sent["result"], strict=True):
            assert read["type"] == "rectanglelabels" and 0 < read["score"] <= 1, read
            np.testing.assert_allclose(pixels(read), pixels(ours_region), atol=1.0)
            assert (read["original_width"], read["original_height"]) == (64, 64)
            boxes += 1
    assert boxes, "with the gate off the predicted boxes are pre-annotated"

    shown = max(order[:DEPTH], key=lambda t: len(rows[t]["result"]))
    shot = tmp_path / "boxes-editor.png"
    seen = editor_shot(ls, pid, shown, shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert seen.get("canvases") and seen.get("regions"), seen
    predicted = {r["value"]["rectanglelabels"][0] for r in rows[shown]["result"]}
    assert any(name in " ".join(seen["regions"]) for name in predicted), (predicted, seen)

    for expected in order[:3]:  # Label Studio's label stream follows labelsieve's ranking
        served = next_id(ls, pid)
        assert served == expected, f"served {served}, labelsieve's next is {expected}"
        annotate(ls, served, truth[served])
