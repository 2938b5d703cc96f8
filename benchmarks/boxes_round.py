"""A boxes project's retrain round through the service's loop: seconds per step and peak memory at 1 000 images.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/boxes_round.py [--pool 1000] [--labelled 50]
                                                 [--epochs 8] [--min-steps 60] [--stop-set 500]
                                                 [--rounds 2] [--strategy NAME]

One project in a fresh SQLite database: ``pool`` + ``labelled`` generated 64×64 shapes PNGs under a local-files
root (read and decoded as Label Studio images are), ``labelled`` of them annotated with their true boxes in Label
Studio's rectanglelabels format. ``ActiveLearningLoop.retrain`` runs ``rounds`` times (1 or 2): round 1 decodes
every image, round 2 (after ten more annotations) reads them from the input cache. ``strategy``: the project's
strategy (default: the boxes task type's sum of box entropies). Per round: input load, detector fit, rank (boxes,
per-box distributions and backbone embeddings for every pool image, then the sum aggregation), the rest of the
round (saving the model and ranking, the stop set's predictions), the whole round, and the process's peak RSS.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.detection.service_data import BOXES, box_result  # noqa: E402

from labelsieve.detection.synthetic import make_shapes  # noqa: E402
from labelsieve.labelstudio.gateway import LabelStudioGateway  # noqa: E402
from labelsieve.metrics import Metrics  # noqa: E402
from labelsieve.registry import get_registries  # noqa: E402
from labelsieve.service.loop import ActiveLearningLoop  # noqa: E402
from labelsieve.settings import Settings  # noqa: E402
from labelsieve.storage import crud  # noqa: E402
from labelsieve.storage.artifacts import ArtifactStore  # noqa: E402
from labelsieve.storage.db import make_engine, session_scope  # noqa: E402

P = 1


def rounds(args: argparse.Namespace, work: Path) -> list[dict]:
    files = work / "files"
    files.mkdir()
    data = make_shapes(args.pool + args.labelled + 10, size=64, seed=7)
    datas = []
    for i, image in enumerate(data.images):
        image.save(files / f"{i}.png")
        datas.append({"image": f"/data/local-files/?d={i}.png"})
    settings = Settings(data_dir=work / "data", database_url=f"sqlite:///{work / 'db.sqlite3'}",
                        label_studio_url=None, label_studio_api_key=None, local_files_document_root=files,
                        start_workers=False, torch_threads=1)
    engine = make_engine(settings.db_url)
    loop = ActiveLearningLoop(engine=engine, settings=settings, registries=get_registries(),
                              artifacts=ArtifactStore(settings.models_path), metrics=Metrics(),
                              gateway=LabelStudioGateway(engine=engine, settings=settings))
    loop.setup_project(project_id=P, label_config=BOXES, extra_params={
        "learner_params": {"epochs": args.epochs, "min_steps": args.min_steps}, "device": "cpu",
        "retrain_every": 1, "min_annotations": 2, "stop_set_size": args.stop_set,
        **({"strategy": args.strategy} if args.strategy else {})})
    with session_scope(engine) as session:
        crud.upsert_tasks(session=session, project_id=P, tasks=[{"id": i + 1, "data": d} for i, d in enumerate(datas)])
    config = loop.served(BOXES).config

    def annotate(ids: range) -> None:
        with session_scope(engine) as session:
            for i in ids:
                crud.upsert_annotation(session=session, project_id=P, config=config, annotation={
                    "id": i + 1, "task": i + 1, "result": box_result(data.targets[i])})

    annotate(range(args.labelled))
    out = [{"before_rounds_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}]
    print(json.dumps(out[0]), flush=True)
    for number in range(1, args.rounds + 1):
        if number == 2:
            annotate(range(args.labelled, args.labelled + 10))
        started = time.perf_counter()
        outcome = loop.retrain(P, force=True)
        seconds = time.perf_counter() - started
        assert outcome.status == "trained", outcome.reason
        t = outcome.timings
        out.append({"round": "cold" if number == 1 else "cached", "strategy": args.strategy or "default",
                    "labelled": args.labelled + (number - 1) * 10,
                    "pool": args.pool + args.labelled + 10 - (args.labelled + (number - 1) * 10),
                    "inputs_s": round(t["inputs"], 2), "decoded": int(t["decoded"]), "fit_s": round(t["fit"], 2),
                    "rank_s": round(t["rank"], 2), "select_s": round(t["select"], 3),
                    "rest_s": round(seconds - t["inputs"] - t["fit"] - t["rank"], 2), "round_s": round(seconds, 2),
                    "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--labelled", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--min-steps", type=int, default=60)
    parser.add_argument("--stop-set", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2, choices=(1, 2))
    parser.add_argument("--strategy", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work:
        result = {"args": vars(args), "rounds": rounds(args, Path(work)), "torch_threads": torch.get_num_threads()}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
