"""``make demo`` (scripts/demo.py): Label Studio and labelsieve come up with a project that fits a laptop screen,
nothing warns at start, and stopping it (SIGTERM, like Ctrl-C) stops both and removes every temporary folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.harness.labelstudio import TOKEN, ensure_template, ls_python

ROOT = Path(__file__).resolve().parents[2]


def test_demo_starts_a_laptop_sized_project_without_warnings_and_cleans_up(tmp_path) -> None:
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
    try:
        assert ready.wait(600), "".join(lines)[-3000:]
        output = "".join(lines)
        ls_url, pid = re.search(r"Label Studio: (http://127\.0\.0\.1:\d+)/projects/(\d+)/data", output).groups()
        project = httpx.get(f"{ls_url}/api/projects/{pid}/", headers={"Authorization": f"Token {TOKEN}"},
                            timeout=30).json()
        assert 'showInline="true"' in project["label_config"] and 'maxWidth="240px"' in project["label_config"]
        assert project["sampling"] == "Uncertainty sampling"
        backend = re.search(r"project status: (http://127\.0\.0\.1:\d+/projects/\d+)", output).group(1)
        assert httpx.get(backend, timeout=30).status_code == 200
        assert "Warning" not in output and "smallest subnormal" not in output, output
        made = sorted(p.name for p in tmp_path.iterdir())
        assert any(name.startswith("labelsieve-demo-") for name in made), made
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
        reader.join(10)
    assert "temporary folders removed" in "".join(lines)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(("labelsieve-demo-", "ls-data-", "ls-"))]
    assert left == [], f"the demo left {left} behind"
