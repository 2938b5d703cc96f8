"""Observer mode's read cost against a real Label Studio 1.23.2: the full read against incremental rounds.

    LABELSIEVE_LS_PYTHON=/work/main/.venv-ls/bin/python OMP_NUM_THREADS=1 \
        .venv/bin/python benchmarks/observer_read.py --tasks 500 2000 --changed 10

Per project size: import tasks with ``yolo-v8`` predictions (3 scored boxes each), then time the reads of
successive rounds: the first (full) one; then after ``--changed`` predictions stored one by one
(``POST /api/predictions/``, as an ML backend's answers are); with nothing changed (twice: the overlap window is
listed again once); after ``--changed`` more; and after ``--changed`` predictions bulk-imported
(``/import/predictions``: no ``updated_at`` bump, so the counts differ and the project is read again).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.labelstudio import LabelStudioServer, start_label_studio  # noqa: E402

from labelsieve.labelstudio.client import LabelStudioClient  # noqa: E402
from labelsieve.labelstudio.observed import ObservedReader, ObservedState  # noqa: E402

CONFIG = ('<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
          '<Label value="car"/></RectangleLabels></View>')


def box(score: float, k: int) -> dict:
    return {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 640,
            "original_height": 480, "score": score,
            "value": {"x": 5 + 20 * k, "y": 10, "width": 10, "height": 10, "rotation": 0, "rectanglelabels": ["car"]}}


def one_size(ls: LabelStudioServer, n: int, changed: int) -> list[str]:
    pid = ls.api("POST", "/api/projects", json={"title": f"observer read {n}", "label_config": CONFIG}).json()["id"]
    tasks = [{"data": {"image": f"/data/local-files/?d={i}.jpg"}, "predictions": [
        {"model_version": "yolo-v8", "result": [box(0.5 + 0.1 * ((i + k) % 5), k) for k in range(3)]}]}
        for i in range(n)]
    ids = ls.api("POST", f"/api/projects/{pid}/import?return_task_ids=true", json=tasks, timeout=600).json()["task_ids"]
    client, reader, state = LabelStudioClient(ls.url, ls.token), ObservedReader(), ObservedState()
    rows: list[str] = []

    def measure(label: str) -> None:
        result = reader.read(client, pid, state)
        rows.append(f"| {n} | {label} | {result.how} | {result.tasks_read} | {result.requests} | "
                    f"{result.seconds:.2f} |")
        print(rows[-1], flush=True)

    def single(task_ids: list[int]) -> None:
        for tid in task_ids:
            ls.api("POST", "/api/predictions/",
                   json={"task": tid, "model_version": "yolo-v8", "result": [box(0.51, 0)]})

    measure("first")
    single(ids[:changed])
    measure(f"after {changed} single predictions")
    measure("nothing changed (overlap window once)")
    measure("nothing changed")
    single(ids[changed: 2 * changed])
    measure(f"after {changed} more single predictions")
    ls.api("POST", f"/api/projects/{pid}/import/predictions", json=[
        {"task": tid, "model_version": "yolo-v8", "result": [box(0.52, 0)]} for tid in ids[-changed:]])
    measure(f"after {changed} bulk-imported predictions")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--changed", type=int, default=10)
    args = parser.parse_args()
    ls = start_label_studio(Path(tempfile.mkdtemp(prefix="obs-files-")))
    rows = ["| tasks | read | how | tasks listed | requests | seconds |", "|---|---|---|---|---|---|"]
    try:
        for n in args.tasks:
            rows += one_size(ls, n, args.changed)
    finally:
        ls.stop()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
