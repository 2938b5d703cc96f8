"""Named entities against a real Label Studio 1.23.2: a ``<Labels>`` on ``<Text>`` project gets its queue head pushed
with a score on every span (the gate off, so spans are pre-annotated), ``/next`` serves labelsieve's ranking, the
predictions read back through Label Studio's API reproduce their text (``text[start:end] == value.text``, with
accents, double spaces and an emoji before the entity), and headless Chromium shows the predicted span in the
labelling editor (the screenshot is saved)."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import connect_backend, wait_version
from tests.e2e.test_live_queue import next_id, ranking
from tests.harness.chromium import Chromium
from tests.harness.labelstudio import LabelStudioServer
from tests.spans.corpus import make_corpus

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]

CONFIG = """<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>
<Text name="text" value="$text"/></View>"""
DEPTH = 20
EXTRA = {"strategy": "task_uncertainty", "min_annotations": 15, "retrain_every": 100000, "queue_depth": DEPTH,
         "preannotate_threshold": 0}
PREFIXES = ["", "🎉 ", "Olá!  ", "ça va —  "]


def sentences(n: int) -> list[tuple[str, list[dict]]]:
    """(text, gold span regions): words joined by one or two spaces, some texts opening with an emoji or accents."""
    out = []
    for k, (words, tags) in enumerate(zip(*make_corpus(n, seed=41), strict=True)):
        prefix, glue = PREFIXES[k % len(PREFIXES)], "  " if k % 3 == 0 else " "
        starts, position = [], len(prefix)
        for word in words:
            starts.append(position)
            position += len(word) + len(glue)
        text = prefix + glue.join(words)
        regions = []
        for i, tag in enumerate(tags):
            if tag.startswith("B-"):
                j = i
                while j + 1 < len(tags) and tags[j + 1].startswith("I-"):
                    j += 1
                s, e = starts[i], starts[j] + len(words[j])
                regions.append({"from_name": "label", "to_name": "text", "type": "labels",
                                "value": {"start": s, "end": e, "text": text[s:e], "labels": [tag[2:]]}})
        out.append((text, regions))
    return out


def annotate(ls: LabelStudioServer, task_id: int, result: list[dict]) -> None:
    response = ls.api("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result})
    assert response.status_code == 201, response.text


def session_cookie(ls: LabelStudioServer) -> str:
    """Log in like a person (Django's login form) and return the ``sessionid`` the browser will use."""
    with httpx.Client(base_url=ls.url, follow_redirects=False, timeout=60) as web:
        web.get("/user/login/")
        token = web.cookies.get("csrftoken")
        response = web.post("/user/login/", data={"email": ls.username, "password": ls.password,
                                                  "csrfmiddlewaretoken": token}, headers={"Referer": ls.url})
        assert response.status_code in (200, 302), response.text[:200]
        session = web.cookies.get("sessionid")
    assert session, "Label Studio gave no session cookie"
    return str(session)


PROBE = """new Promise(resolve => {
  const deadline = Date.now() + 60000;
  const look = () => {
    const docs = [document, ...[...document.querySelectorAll('iframe')].map(f => {
      try { return f.contentDocument; } catch (e) { return null; } }).filter(Boolean)];
    // the editor wraps each text region in <span class="htx-highlight ...">
    const spans = docs.flatMap(d => [...d.querySelectorAll('span[class*="htx-highlight"]')])
      .map(s => s.textContent).filter(t => t && t.trim());
    if (spans.length || Date.now() > deadline) { resolve({spans, title: document.title}); }
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
        time.sleep(1.0)  # let the highlight paint before the picture (the probe already saw it in the DOM)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        path.write_bytes(base64.b64decode(shot["data"]))
        return dict(found.get("result", {}).get("value") or {})
    finally:
        browser.stop()


def test_ner_head_spans_offsets_next_order_and_editor(label_studio, labelsieve_server, tmp_path) -> None:
    ls, server = label_studio, labelsieve_server
    data = sentences(120)
    pid = int(ls.api("POST", "/api/projects", json={"title": "ner", "label_config": CONFIG}).json()["id"])
    imported = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=[{"text": t} for t, _ in data])
    assert imported.status_code == 201, imported.text
    truth = {int(tid): item for tid, item in zip(imported.json()["task_ids"], data, strict=True)}
    httpx.post(f"{server.url}/setup", json={"project": f"{pid}.0", "schema": CONFIG, "extra_params": EXTRA},
               timeout=300).raise_for_status()
    connect_backend(ls, pid, server.url, EXTRA)
    first = list(truth)[:15]
    for tid in first:
        annotate(ls, tid, truth[tid][1])
    version = wait_version(ls, pid, other_than=None, timeout=300)
    order = [t for t in ranking(server, pid, version) if t not in set(first)]

    rows = {}
    page = 1
    while True:
        body = ls.api("GET", "/api/predictions/", params={"project": pid, "page": page, "page_size": 1000}).json()
        batch = body["results"] if isinstance(body, dict) else body
        rows.update({int(r["task"]): r for r in batch if r["model_version"] == version})
        if isinstance(body, list) or not body.get("next"):
            break
        page += 1
    assert set(rows) == set(order[:DEPTH]), "the head of labelsieve's ranking is pushed"
    assert sorted(rows, key=lambda t: rows[t]["score"]) == order[:DEPTH], "scores encode labelsieve's rank"
    spans = 0
    for tid, row in rows.items():
        text = ls.api("GET", f"/api/tasks/{tid}").json()["data"]["text"]  # the text as Label Studio holds it
        for region in row["result"]:
            value = region["value"]
            assert region["type"] == "labels" and 0 < region["score"] <= 1, region
            assert text[value["start"]:value["end"]] == value["text"], (text, value)
            assert value["labels"][0] in ("PER", "LOC")
            spans += 1
    assert spans, "with the gate off the predicted spans are pre-annotated"

    shown = next(t for t in order[:DEPTH] if rows[t]["result"] and re.search(r"[^\x00-\x7f]", truth[t][0]))
    shot = tmp_path / "ner-editor.png"
    seen = editor_shot(ls, pid, shown, shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    predicted = {r["value"]["text"] for r in rows[shown]["result"]}
    assert predicted & {s.strip() for s in seen.get("spans", [])}, (predicted, seen)

    for expected in order[:3]:  # Label Studio's label stream follows labelsieve's ranking
        served = next_id(ls, pid)
        assert served == expected, f"served {served}, labelsieve's next is {expected}"
        annotate(ls, served, truth[served][1])
