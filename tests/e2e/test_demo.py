"""``make demo`` (scripts/demo.py): Label Studio and labelsieve come up with a project that fits a laptop screen,
the screen shows the two URLs a person opens (not the status JSON) and stays readable (the servers log to files),
Label Studio keeps the Extra params as the JSON string its dialog edits, and after ten labels the project page a
browser opens carries the project's name, an honest headline and no empty "waiting" table; stopping it (SIGTERM,
like Ctrl-C) stops both and removes every temporary folder."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sklearn.datasets import load_digits

from tests.harness.chromium import Chromium, ChromiumMissing, chromium_binary
from tests.harness.labelstudio import TOKEN, ensure_template, ls_python

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"Authorization": f"Token {TOKEN}"}
PROBE = """(() => ({
  title: document.title,
  h1: document.querySelector('h1') ? document.querySelector('h1').innerText : '',
  estimate: document.querySelector('.estimate') ? document.querySelector('.estimate').innerText : '',
  waiting: !!document.querySelector('section#waiting'),
}))()"""


def _label_ten(ls_url: str, pid: int) -> None:
    truth = load_digits().target
    tasks = httpx.get(f"{ls_url}/api/tasks", params={"project": pid, "page_size": 10}, headers=HEADERS,
                      timeout=60).json()["tasks"]
    for task in tasks:
        index = int(re.search(r"digit_(\d+)\.png", json.dumps(task["data"])).group(1))
        result = [{"from_name": "digit", "to_name": "image", "type": "choices",
                   "value": {"choices": [str(truth[index])]}}]
        answer = httpx.post(f"{ls_url}/api/tasks/{task['id']}/annotations/", json={"result": result},
                            headers=HEADERS, timeout=60)
        assert answer.status_code == 201, answer.text[:300]


def _wait_for_ranking(ls_url: str, pid: int, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = httpx.get(f"{ls_url}/api/projects/{pid}/", params={"include": "id,model_version"}, headers=HEADERS,
                            timeout=30).json().get("model_version") or ""
        if version.startswith("labelsieve-"):
            return version
        time.sleep(2)
    raise AssertionError("labelsieve pushed no ranking within 10 minutes of the tenth label")


def test_demo_shows_the_page_and_a_readable_screen_then_cleans_up(tmp_path) -> None:
    try:
        chromium_binary()
    except ChromiumMissing as exc:
        pytest.fail(str(exc))  # make test installs it
    ensure_template()  # a fresh checkout builds it first (kept in .cache/, not a temporary folder of the demo's)
    env = dict(os.environ, TMPDIR=str(tmp_path), LABELSIEVE_LS_PYTHON=ls_python())
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo.py")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Press 'Label All Tasks'" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    browser = None
    try:
        assert ready.wait(600), "".join(lines)[-3000:]
        output = "".join(lines)
        ls_url, pid = re.search(r"Label Studio: +(http://127\.0\.0\.1:\d+)/projects/(\d+)/data", output).groups()
        page = re.search(r"labelsieve page: +(http://127\.0\.0\.1:\d+/projects/\d+/page)", output).group(1)
        assert "/projects/" + pid + "/page" in page and "project status" not in output
        assert len(lines) <= 12, f"the start-up screen should fit: {len(lines)} lines\n{output}"
        project = httpx.get(f"{ls_url}/api/projects/{pid}/", headers=HEADERS, timeout=30).json()
        assert 'showInline="true"' in project["label_config"] and 'maxWidth="240px"' in project["label_config"]
        assert project["sampling"] == "Uncertainty sampling"
        backends = httpx.get(f"{ls_url}/api/ml", params={"project": pid}, headers=HEADERS, timeout=30).json()
        assert isinstance(backends[0]["extra_params"], str), backends[0]["extra_params"]  # not [object Object]
        assert json.loads(backends[0]["extra_params"])["retrain_every"] == 5
        assert "Warning" not in output and "smallest subnormal" not in output, output
        made = sorted(p.name for p in tmp_path.iterdir())
        assert any(name.startswith("labelsieve-demo-") for name in made), made

        _label_ten(ls_url, int(pid))
        _wait_for_ranking(ls_url, int(pid))
        browser = Chromium().start()
        visit = browser.visit(page, probe=PROBE, screenshot=tmp_path / "demo-page.png")
        assert visit.status == 200
        assert visit.dom["title"].startswith("Digits (labelsieve demo)"), visit.dom
        assert visit.dom["h1"] == "Digits (labelsieve demo)", visit.dom
        assert not visit.dom["waiting"], "an empty 'Waiting and failing' section is shown"
        headline = visit.dom["estimate"].split("Prequential accuracy:")[0]
        assert "biased" not in headline, visit.dom["estimate"]
        assert all(urlsplit(u).scheme == "data" or u.startswith(page.split("/projects")[0]) for u in visit.requests)
        assert len(lines) <= 12, "the servers wrote to the screen after start-up:\n" + "".join(lines[12:])[-2000:]
    finally:
        if browser is not None:
            browser.stop()
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
        reader.join(10)
    assert "temporary folders removed" in "".join(lines)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(("labelsieve-demo-", "ls-data-", "ls-"))]
    assert left == [], f"the demo left {left} behind"
