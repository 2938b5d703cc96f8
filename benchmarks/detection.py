"""Boxes benchmark: labels (images, boxes) to 90% of full-data mAP@0.5 for labelsieve's aggregations (sum, mean,
max of per-box entropy) vs random vs Label Studio's example rule (mean of scores >= 0.5, empty = 0), on the generated
shapes set; and the cost of one round (fit + rank) on a 1k-image pool with peak memory.

    OMP_NUM_THREADS=1 python benchmarks/detection.py recipe --images 200 --size 48 --epochs 12 --lr 5e-3
    OMP_NUM_THREADS=1 python benchmarks/detection.py savings --first-seed 0 --seeds 1 --out runs/bench-detection
    python benchmarks/detection.py table --out runs/bench-detection   # markdown from the rounds written so far
    OMP_NUM_THREADS=1 python benchmarks/detection.py round-cost --pool 1000

Prints JSON; benchmarks/results/detection.md holds the tables written from it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from labelsieve.detection.average_precision import mean_average_precision
from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.synthetic import make_shapes
from labelsieve.detection.uncertainty import pool_uncertainty
from labelsieve.simulate.detection import BoxSimulationConfig, run_box_simulation


def savings(args: argparse.Namespace) -> dict:
    data = make_shapes(args.images, size=args.size, seed=args.data_seed)
    config = BoxSimulationConfig(
        strategies=tuple(args.rankings.split(",")), initial=args.initial, batch_size=args.batch_size,
        budget=args.budget, seeds=args.seeds, test_fraction=0.3, base_seed=args.first_seed,
        learner_params={"epochs": args.epochs, "min_steps": args.min_steps, "image_size": args.size, "lr": args.lr,
                        "device": "cpu"},
    )
    rounds = args.out / f"rounds-{args.first_seed}.jsonl" if args.out else None
    if rounds:
        args.out.mkdir(parents=True, exist_ok=True)

    def keep(seed: int, name: str, point: dict) -> None:
        if rounds:
            with rounds.open("a") as handle:
                handle.write(json.dumps({"seed": seed, "ranking": name, **point}) + "\n")

    started = time.perf_counter()
    report = run_box_simulation(data, config, progress=lambda line: print(line, flush=True), on_round=keep)
    report["seconds"] = time.perf_counter() - started
    return report


def _to_target(curve: list[dict], target: float, key: str, censored: float) -> tuple[float, bool]:
    """Images or boxes at the first round reaching ``target`` mAP@0.5; ``censored`` (the budget) when none did."""
    point = next((p for p in curve if p["map_50"] >= target), None)
    return (float(point[key]), True) if point is not None else (censored, False)


def _reports(folder: Path) -> list[dict]:
    """One report per seed, from the ``rounds-*.jsonl`` files (rankings whose curve is complete only), so a run
    stopped early still gives its finished rankings."""
    by_seed: dict[int, dict] = {}
    for path in sorted(folder.glob("rounds-*.jsonl")):
        for line in path.read_text().splitlines():
            point = json.loads(line)
            seed, name = point.pop("seed"), point.pop("ranking")
            report = by_seed.setdefault(seed, {"strategies": {}, "full_data": [], "config": {"target_fraction": 0.9}})
            if name == "full_data":
                report["full_data"].append(point)
            else:
                report["strategies"].setdefault(name, [[]])[0].append(point)
    budget = max(p["images"] for r in by_seed.values() for c in r["strategies"].values() for p in c[0])
    for report in by_seed.values():
        report["strategies"] = {k: v for k, v in report["strategies"].items() if v[0][-1]["images"] >= budget}
    seeds = [r for _, r in sorted(by_seed.items()) if "random" in r["strategies"]]
    common = set.intersection(*(set(r["strategies"]) for r in seeds))
    for report in seeds:
        report["strategies"] = {k: v for k, v in report["strategies"].items() if k in common}
    return seeds


def table(args: argparse.Namespace) -> str:
    """Markdown tables from the per-seed JSON files ``savings-S.json`` written by ``savings --out``."""
    reports = _reports(args.out)
    names = list(reports[0]["strategies"])
    rare = args.rare
    full = [r["full_data"][0] for r in reports]
    lines = [f"Full-data mAP@0.5 per seed: {[round(f['map_50'], 3) for f in full]}; mAP@0.5:0.95: "
             f"{[round(f['map_50_95'], 3) for f in full]}; {rare} AP@0.5: {[round(f['ap_50'][rare], 3) for f in full]}",
             "", "| ranking | seeds reaching 90% | images to 90% (per seed) | boxes to 90% (per seed) "
             "| images / random | boxes / random | seeds above random (mean mAP@0.5 over rounds) "
             "| mAP@0.5 / @0.5:0.95 at the end "
             f"| {rare} AP@0.5 at the end | boxes drawn at the end |", "|---|---|---|---|---|---|---|---|---|---|"]
    per: dict[str, dict[str, list]] = {}
    for name in names:
        rows: dict[str, list] = {"images": [], "boxes": [], "reached": [], "area": [], "end": [], "end_95": [],
                                 "rare": [], "drawn": []}
        for report, reference in zip(reports, full, strict=True):
            curve = report["strategies"][name][0]
            target = report["config"]["target_fraction"] * reference["map_50"]
            images, ok = _to_target(curve, target, "images", float(curve[-1]["images"]))
            boxes, _ = _to_target(curve, target, "boxes", float(curve[-1]["boxes"]))
            rows["images"].append(images)
            rows["boxes"].append(boxes)
            rows["reached"].append(ok)
            rows["area"].append(float(np.mean([p["map_50"] for p in curve])))
            rows["end"].append(curve[-1]["map_50"])
            rows["end_95"].append(curve[-1]["map_50_95"])
            rows["rare"].append(float(np.nan_to_num(curve[-1]["ap_50"][rare])))
            rows["drawn"].append(curve[-1]["boxes"])
        per[name] = rows

    def seeds(rows: dict[str, list], key: str) -> str:
        return " / ".join(f"{v:.0f}" if ok else f">{v:.0f}" for v, ok in zip(rows[key], rows["reached"], strict=True))

    base = per["random"]
    for name, rows in per.items():
        above = sum(a > b for a, b in zip(rows["area"], base["area"], strict=True))
        lines.append(
            f"| {name} | {sum(rows['reached'])}/{len(reports)} | {seeds(rows, 'images')} | {seeds(rows, 'boxes')} "
            f"| {sum(rows['images']) / sum(base['images']):.2f} | {sum(rows['boxes']) / sum(base['boxes']):.2f} "
            f"| {'-' if name == 'random' else f'{above}/{len(reports)}'} "
            f"| {np.mean(rows['end']):.3f} / {np.mean(rows['end_95']):.3f} | {np.mean(rows['rare']):.3f} "
            f"| {np.mean(rows['drawn']):.0f} |")
    lines += ["", "| ranking | mean mAP@0.5 over rounds | difference to random (paired, mean / min / max) |",
              "|---|---|---|"]
    for name, rows in per.items():
        diff = np.array(rows["area"]) - np.array(base["area"])
        lines.append(f"| {name} | {np.mean(rows['area']):.3f} | {diff.mean():+.3f} / {diff.min():+.3f} / "
                     f"{diff.max():+.3f} |")
    return "\n".join(lines)


def recipe(args: argparse.Namespace) -> dict:
    """One detector recipe on the generated set: fit on the first ``--images`` images, score on the next 100."""
    data = make_shapes(args.images + 100, size=args.size, seed=args.data_seed)
    train, test = data.subset(range(args.images)), data.subset(range(args.images, args.images + 100))
    started = time.perf_counter()
    learner = DetectorLearner(image_size=args.size, device="cpu", epochs=args.epochs, min_steps=args.min_steps,
                              lr=args.lr, batch_size=args.learner_batch).fit(train.images, train.targets,
                                                                             classes=data.classes)
    fit_s = time.perf_counter() - started
    scores = mean_average_precision(test.targets, learner.predict(test.images), test.classes)
    return {"images": args.images, "size": args.size, "epochs": args.epochs, "min_steps": args.min_steps,
            "lr": args.lr, "batch": args.learner_batch, "steps": len(learner.losses_) * -(-args.images //
                                                                                        args.learner_batch),
            "fit_s": fit_s, "map_50": scores.map_50, "map_50_95": scores.map_50_95,
            "ap_50": scores.ap_50_per_class,
            "train_boxes": {c: sum(t.labels.count(c) for t in train.targets) for c in data.classes}}


def round_cost(args: argparse.Namespace) -> dict:
    pool = make_shapes(args.pool, size=args.size, seed=7)
    labelled = make_shapes(args.labelled, size=args.size, seed=8)
    started = time.perf_counter()
    learner = DetectorLearner(epochs=args.epochs, min_steps=args.min_steps, image_size=args.size).fit(
        labelled.images, labelled.targets, classes=labelled.classes)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    detections, embeddings = learner.infer(pool.images)
    infer_s = time.perf_counter() - started
    started = time.perf_counter()
    scores = {name: pool_uncertainty(detections, aggregation=name) for name in ("sum", "mean", "max")}
    rank_s = time.perf_counter() - started
    return {"pool": args.pool, "labelled": args.labelled, "fit_s": fit_s, "infer_s": infer_s, "rank_s": rank_s,
            "embedding_dim": int(embeddings.shape[1]),
            "finite": bool(all(np.isfinite(v).all() for v in scores.values())),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("savings", "round-cost", "table", "recipe"))
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--data-seed", type=int, default=2026)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rankings", default="random,sum,ls_example,mean,max,sum_rare,flip,mc_dropout",
                        help="comma-separated rankings of labelsieve.simulate.detection.RANKINGS")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--budget", type=int, default=70)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--min-steps", type=int, default=60)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--learner-batch", type=int, default=8, help="recipe: the detector's batch size")
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--labelled", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rare", default="cross", help="the rare class reported by table")
    args = parser.parse_args()
    if args.mode == "table":
        print(table(args))
        return
    torch.set_num_threads(1)
    result = {"savings": savings, "round-cost": round_cost, "recipe": recipe}[args.mode](args)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.mode}-{args.first_seed}.json").write_text(text)
    print(json.dumps(result.get("savings", result), indent=1))


if __name__ == "__main__":
    main()
