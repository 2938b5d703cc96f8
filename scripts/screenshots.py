"""``make screenshots``: the README's two pictures, from a real run on this machine.

1. ``labelsieve simulate`` on the packaged digits (margin against random, 3 seeds, 200 labels): its report's learning
   curves become ``docs/images/savings.png`` (the same figure ``report.html`` shows).
2. ``labelsieve serve`` on the margin run's own database (seed 0: a project trained round by round through the
   service's loop; its 5-fold estimate computed first, as the service's background job does after a retrain) and a
   headless Chromium's screenshot of that project's page: ``docs/images/project-page.png`` (its top, where the
   headline, the learning curve and the class balance are).

The run stays in ``runs/screenshots`` (resumable; ``--restart`` starts over). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.harness.chromium import Chromium  # noqa: E402
from tests.harness.net import free_port, wait_http  # noqa: E402

from labelsieve.report.html import curves_png, summary  # noqa: E402
from labelsieve.service.container import build_service  # noqa: E402
from labelsieve.service.cvjob import estimate_version  # noqa: E402
from labelsieve.settings import Settings  # noqa: E402
from labelsieve.simulate.runner import PROJECT_ID  # noqa: E402

IMAGES = ROOT / "docs" / "images"
BIN = Path(sys.executable).parent
#: the page's top: header, learning curve and class balance fit in this many pixels at 1280 wide
PAGE_HEIGHT = 1500


def simulate(out: Path, restart: bool) -> dict:
    command = [str(BIN / "labelsieve"), "simulate", "--dataset", "digits", "--strategies", "margin,random",
               "--seeds", "3", "--budget", "200", "--out", str(out)] + (["--restart"] if restart else [])
    print("running:", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads((out / "report.json").read_text())


def savings_plot(report: dict) -> Path:
    target = IMAGES / "savings.png"
    target.write_bytes(base64.b64decode(curves_png(report).split(",", 1)[1]))
    return target


def five_fold_estimate(run_dir: Path, database_url: str) -> None:
    """What the service computes in the background after a retrain (a simulation runs no background jobs)."""
    service = build_service(Settings(data_dir=run_dir, database_url=database_url, model_dir=run_dir / "models",
                                     start_workers=False, torch_threads=1, label_studio_url=None,
                                     label_studio_api_key=None))
    try:
        project = service.loop.project(PROJECT_ID)
        estimate = estimate_version(service.loop, project, project.model_version,
                                    service.loop.settings_of(project).settings)
        print("5-fold estimate:", {k: estimate.get(k) for k in ("status", "accuracy", "macro_f1", "n_used")})
    finally:
        service.stop()


def page_screenshot(out: Path) -> Path:
    run_dir = next(p for p in sorted((out / "runs").iterdir()) if p.name.startswith("margin"))
    database_url = f"sqlite:///{run_dir / 'run.sqlite3'}"
    five_fold_estimate(run_dir, database_url)
    port = free_port()
    env = {**os.environ, "LABELSIEVE_DATABASE_URL": database_url, "LABELSIEVE_MODEL_DIR": str(run_dir / "models"),
           "LABELSIEVE_START_WORKERS": "false", "LABELSIEVE_TORCH_THREADS": "1"}
    server = subprocess.Popen([str(BIN / "labelsieve"), "serve", "--port", str(port), "--data-dir", str(run_dir),
                               "--log-level", "WARNING"], env=env, stdout=subprocess.DEVNULL)
    browser = Chromium()
    try:
        if not wait_http(f"http://127.0.0.1:{port}/health", 180):
            raise SystemExit("labelsieve serve did not start")
        browser.start()
        shot = IMAGES / "project-page-full.png"
        visit = browser.visit(f"http://127.0.0.1:{port}/projects/{PROJECT_ID}/page", probe="document.title",
                              screenshot=shot)
        if visit.status != 200:
            raise SystemExit(f"the page answered {visit.status}")
    finally:
        browser.stop()
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    target = IMAGES / "project-page.png"
    with Image.open(shot) as full:
        full.crop((0, 0, full.width, min(full.height, PAGE_HEIGHT))).save(target, optimize=True)
    shot.unlink()
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "screenshots")
    parser.add_argument("--restart", action="store_true", help="discard the run in --out and simulate again")
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    report = simulate(args.out, args.restart)
    print(summary(report), flush=True)
    for made in (savings_plot(report), page_screenshot(args.out)):
        print("wrote", made.relative_to(ROOT), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
