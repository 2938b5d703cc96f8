"""Label Studio's labelling editor in headless Chromium: log in like a person, open a task, wait until a probe sees
what the test looks for (regions listed, spans highlighted), and save a screenshot."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx

from tests.harness.chromium import Chromium
from tests.harness.labelstudio import LabelStudioServer


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


def editor_shot(ls: LabelStudioServer, pid: int, task_id: int, path: Path, probe: str) -> dict:
    """Open task ``task_id`` of project ``pid`` in the editor, evaluate ``probe`` (a JavaScript promise resolving to
    what it saw) and save a PNG screenshot at ``path``; what the probe saw."""
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
        found = browser.send("Runtime.evaluate", {"expression": probe, "awaitPromise": True, "returnByValue": True},
                             session=session, timeout=90)
        time.sleep(1.0)  # let the canvas / highlight paint before the picture (the probe already saw it in the DOM)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        path.write_bytes(base64.b64decode(shot["data"]))
        return dict(found.get("result", {}).get("value") or {})
    finally:
        browser.stop()
