"""Headless Chromium (Debian's ``chromium`` package) driven over the DevTools protocol through a pipe.

``--remote-debugging-pipe`` speaks CDP as NUL-terminated JSON on file descriptors 3 (to the browser) and
4 (from it), so no websocket library is needed. The browser gets a fresh profile, no background services,
and a host resolver that knows only 127.0.0.1: nothing it is asked to load can leave the machine, and
``Network.requestWillBeSent`` events record every request the page made, for the test to check.
It is started and stopped by its own PID.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-pipe"]


class ChromiumMissing(RuntimeError):
    """Chromium is not installed (``scripts/ensure-chromium.sh`` installs Debian's package)."""


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissing("chromium is not installed: run scripts/ensure-chromium.sh (make test does)")


@dataclass
class PageVisit:
    url: str
    status: int | None
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    dom: dict[str, Any] = field(default_factory=dict)  # what the DOM probe script returned
    screenshot: Path | None = None


class Chromium:
    def __init__(self, profile: Path | None = None) -> None:
        self.profile = profile
        self.process: subprocess.Popen[bytes] | None = None
        self._to: int | None = None
        self._from: int | None = None
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def start(self) -> Chromium:
        self.profile = self.profile or Path(tempfile.mkdtemp(prefix="labelsieve-chromium-"))
        to_read, to_write = os.pipe()  # the browser reads fd 3
        from_read, from_write = os.pipe()  # the browser writes fd 4

        def child_fds() -> None:  # runs before the child closes every fd but pass_fds
            a, b = os.dup(to_read), os.dup(from_write)  # out of the way of 3 and 4 first
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.process = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdout=subprocess.DEVNULL,
            stderr=open(self.profile / "chromium.log", "wb"),  # noqa: SIM115 - the child holds it
        )
        os.close(to_read)
        os.close(from_write)
        self._to, self._from = to_write, from_read
        return self

    def stop(self) -> None:
        for fd in (self._to, self._from):
            if fd is not None:
                os.close(fd)
        self._to = self._from = None
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        self.process = None

    # ------------------------------------------------------------------ protocol
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium sent nothing in time")
            assert self._from is not None
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        assert self._to is not None
        os.write(self._to, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, *, session: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event

    # -------------------------------------------------------------------- visits
    def visit(self, url: str, *, probe: str, screenshot: Path | None = None, width: int = 1280) -> PageVisit:
        """Open ``url`` in a new tab, wait for its load event, run ``probe`` (a JS expression returning JSON-able
        data) and optionally save a full-page PNG screenshot."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.events.clear()
        for domain in ("Network.enable", "Page.enable"):
            self.send(domain, session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session=session)
        result = self.send("Runtime.evaluate", {"expression": probe, "returnByValue": True}, session=session)
        visit = PageVisit(url=url, status=None, dom=result.get("result", {}).get("value") or {})
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            if event.get("method") == "Network.requestWillBeSent":
                visit.requests.append(event["params"]["request"]["url"])
            if event.get("method") == "Network.responseReceived" and event["params"]["response"]["url"] == url:
                visit.status = int(event["params"]["response"]["status"])
        if screenshot is not None:
            shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                             session=session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            visit.screenshot = screenshot
        self.send("Target.closeTarget", {"targetId": target})
        return visit
