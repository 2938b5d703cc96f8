"""``make demo``: Label Studio + labelsieve on this machine, a digits image project ranked live.

Starts Label Studio (``.venv-ls``, loopback, reference env), writes 500 digits PNGs under a local-files
root, creates the project with a Local Storage, starts ``labelsieve serve`` (from the virtual environment that runs
this script: ``make demo`` uses ``.venv-demo``, labelsieve without its optional extras), connects it as the ML
backend and switches the project to Uncertainty sampling; prints the two URLs a person opens (the labelling view
with its login, and the project page) and keeps both servers' logs in files, so nothing pushes them off the
screen. Ctrl-C stops both by PID and removes every temporary folder it made (media, backend data and log, Label
Studio's data and log).

The label config fits a laptop screen (1400x900): the image is shown at most 240 px wide and the ten choices sit
on one line beside it (``showInline``), with hotkeys 0-9, so nothing needs scrolling.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.harness.labelstudio import start_label_studio  # noqa: E402
from tests.harness.net import free_port, wait_http  # noqa: E402

#: Label Studio's bulk prediction import recounts only the imported tasks with this flag on (docs/queue.md, "The head
#: of the queue"); labelsieve detects it and pushes each head in one request instead of one per prediction
FAST_IMPORT = {"fflag_fix_back_4620_memory_efficient_predictions_import_08012025_short": "true"}
CONFIG = ('<View><Image name="image" value="$image" maxWidth="240px"/>'
          '<Choices name="digit" toName="image" choice="single" showInline="true">'
          + "".join(f'<Choice value="{d}" hotkey="{d}"/>' for d in range(10)) + "</Choices></View>")


def write_digits(root: Path, n: int = 500) -> Path:
    digits = load_digits()
    folder = root / "digits"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = (digits.images[i] * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).resize((32, 32), Image.NEAREST).save(folder / f"digit_{i:04d}.png")
    return folder


def main() -> None:
    files = Path(tempfile.mkdtemp(prefix="labelsieve-demo-files-"))
    data = Path(tempfile.mkdtemp(prefix="labelsieve-demo-data-"))
    ls = backend = None
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill <pid>` cleans up like Ctrl-C
    try:
        folder = write_digits(files)
        print("starting Label Studio…", flush=True)
        ls = start_label_studio(files, env=FAST_IMPORT)
        port = free_port()
        env = {"LABEL_STUDIO_URL": ls.url, "LABEL_STUDIO_API_KEY": ls.token, "LABELSIEVE_TORCH_THREADS": "1",
               "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files), "LABELSIEVE_DATA_DIR": str(data)}
        log = data / "labelsieve.log"
        with open(log, "ab") as sink:  # the child keeps its own copy of the descriptor
            backend = subprocess.Popen([str(Path(sys.executable).parent / "labelsieve"), "serve", "--port", str(port)],
                                       env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT)
        if not wait_http(f"http://127.0.0.1:{port}/health", 180):
            raise SystemExit("labelsieve did not start")
        created = ls.api("POST", "/api/projects", json={"title": "Digits (labelsieve demo)", "label_config": CONFIG})
        pid = created.json()["id"]
        storage = ls.api("POST", "/api/storages/localfiles", json={
            "project": pid, "path": str(folder), "regex_filter": r".*\.png", "use_blob_urls": True, "title": "digits"})
        ls.api("POST", f"/api/storages/localfiles/{storage.json()['id']}/sync")
        # learner auto: auto_image (useful from the first labels). Label Studio keeps Extra params as a JSON string:
        # an object shows as [object Object] in its Edit model dialog, which then refuses to save it unchanged
        # audit_share: 2 of every 10 tasks served are drawn uniformly from the pool, so the page's headline accuracy is
        # unbiased (scores on the tasks the strategy chose, the hardest, are biased low)
        extra = json.dumps({"retrain_every": 5, "min_annotations": 10, "audit_share": 0.2})
        for _ in range(3):
            connected = ls.api("POST", "/api/ml", json={"project": pid, "url": f"http://127.0.0.1:{port}",
                                                        "title": "labelsieve", "extra_params": extra})
            if connected.status_code == 201:
                break
        ls.api("PATCH", f"/api/projects/{pid}/", json={"sampling": "Uncertainty sampling"})
        print(f"\nLabel Studio:     {ls.url}/projects/{pid}/data   login {ls.username} / {ls.password}\n"
              f"labelsieve page:  http://127.0.0.1:{port}/projects/{pid}/page\n"
              f"logs:             {log} and {ls.log_path}\n\n"
              "Press 'Label All Tasks' and label digits (keys 0-9); after 10 labels labelsieve trains, pushes its "
              "ranking and Label Studio serves the most useful digit next. Ctrl-C stops both.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if backend is not None:
            backend.terminate()
            backend.wait(timeout=30)
        if ls is not None:
            ls.stop()  # also removes its data directory
            ls.log_path.unlink(missing_ok=True)
        for path in (files, data):
            shutil.rmtree(path, ignore_errors=True)
        print("stopped; temporary folders removed", flush=True)


if __name__ == "__main__":
    main()
