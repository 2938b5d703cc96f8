"""Oracle simulation for the boxes task type: replay active learning over a labelled detection data set.

Every round trains the detector on the labelled images, scores the held-out images (mAP@0.5, mAP@0.5:0.95 by
pycocotools), ranks the unlabelled pool and "labels" the next ``batch_size`` images. Cost is counted in images and
in boxes drawn. Rankings: ``sum`` / ``mean`` / ``max`` (labelsieve's aggregations of per-box entropy), ``random``,
``ls_example`` (Label Studio's example backends: mean of box scores >= 0.5, 0 for no box, lowest served first),
``sum_rare`` (sum weighted by the rarity of the predicted classes among labelled boxes) and ``sum_diverse`` (the
3 × batch most uncertain by sum, then farthest-first on the backbone embeddings), ``flip`` (flip consistency) and
``mc_dropout`` (what ``mc_dropout_boxes`` ranks: 8 MC-dropout passes of the box head's last layer at rate 0.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import ImageOps

from labelsieve.arrays import to_pil
from labelsieve.detection.average_precision import mean_average_precision
from labelsieve.detection.dropout import image_disagreement
from labelsieve.detection.flip import flip_disagreement, mirror
from labelsieve.detection.learner import DetectorLearner
from labelsieve.detection.prediction import Detections
from labelsieve.detection.selection import rare_class_weight, select_diverse
from labelsieve.detection.synthetic import DetectionDataset
from labelsieve.detection.uncertainty import AGGREGATIONS, label_studio_example_score, pool_uncertainty

RANKINGS = (*AGGREGATIONS, "random", "ls_example", "sum_rare", "sum_diverse", "flip", "mc_dropout")


class BoxSimulationError(ValueError):
    """The configuration cannot run on this data set; the message says why."""


@dataclass
class BoxSimulationConfig:
    strategies: tuple[str, ...] = ("sum", "random")
    initial: int = 10
    batch_size: int = 10
    budget: int = 50
    seeds: int = 3
    test_fraction: float = 0.3
    base_seed: int = 0
    learner_params: dict[str, Any] = field(default_factory=dict)
    target_fraction: float = 0.9


def priority(name: str, detections: Sequence[Detections], rng: np.random.Generator) -> np.ndarray:
    """Higher = label sooner. Ties (e.g. many empty images under ``ls_example``) are broken at random."""
    if name in AGGREGATIONS:
        values = pool_uncertainty(list(detections), aggregation=name)
    elif name == "ls_example":
        values = -np.array([label_studio_example_score(d) for d in detections])
    elif name == "random":
        values = np.zeros(len(detections))
    else:
        raise BoxSimulationError(f"unknown ranking {name!r}; choose from {list(RANKINGS)}")
    return values + 1e-9 * rng.random(len(values))


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    n_test = max(1, int(round(n * fraction)))
    return order[n_test:], order[:n_test]


def _evaluate(learner: DetectorLearner, test: DetectionDataset) -> tuple[float, float, dict[str, float]]:
    scores = mean_average_precision(test.targets, learner.predict(test.images), test.classes)
    return scores.map_50, scores.map_50_95, scores.ap_50_per_class


def flip_priority(learner: DetectorLearner, images: Sequence[Any], found: Sequence[Detections],
                  rng: np.random.Generator) -> np.ndarray:
    """``flip``: each image's disagreement with the detections of its mirror image, higher = label sooner."""
    pictures = [to_pil(image) for image in images]
    mirrored = learner.predict([ImageOps.mirror(picture) for picture in pictures])
    values = np.array([flip_disagreement(a, mirror(b, picture.width))
                       for a, b, picture in zip(found, mirrored, pictures, strict=True)])
    return values + 1e-9 * rng.random(len(values))


def run_box_simulation(
    data: DetectionDataset, config: BoxSimulationConfig, *, test: DetectionDataset | None = None,
    progress: Callable[[str], None] | None = None,
    on_round: Callable[[int, str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Learning curves per ranking and seed, the full-data reference, and the labels each ranking needs to reach
    ``target_fraction`` of the full-data mAP@0.5 (``None`` when it does not within ``budget``). ``on_round`` gets
    ``(seed, ranking, point)`` as soon as a round is scored (ranking ``"full_data"`` for the reference), so a long
    run can be read before it ends."""
    unknown = [s for s in config.strategies if s not in RANKINGS]
    if unknown:
        raise BoxSimulationError(f"unknown ranking(s) {unknown}; choose from {list(RANKINGS)}")
    strategies = tuple(dict.fromkeys((*config.strategies, "random")))
    report: dict[str, Any] = {"strategies": {s: [] for s in strategies}, "full_data": [], "classes": list(data.classes),
                              "config": {**config.__dict__, "strategies": list(strategies)}}
    for seed in range(config.base_seed, config.base_seed + config.seeds):
        rng = np.random.default_rng(seed)
        if test is None:
            pool_idx, test_idx = _split(len(data), config.test_fraction, rng)
            pool, held_out = data.subset(pool_idx), data.subset(test_idx)
        else:
            pool, held_out = data, test
        if config.initial > len(pool) or config.budget > len(pool):
            raise BoxSimulationError(f"the pool holds {len(pool)} images: initial ({config.initial}) and budget "
                                     f"({config.budget}) must not exceed it")
        params = {**config.learner_params, "random_state": seed}
        full = DetectorLearner(**params).fit(pool.images, pool.targets, classes=data.classes)
        report["full_data"].append(dict(zip(("map_50", "map_50_95", "ap_50"), _evaluate(full, held_out),
                                            strict=True)))
        if on_round:
            on_round(seed, "full_data", report["full_data"][-1])
        if progress:
            progress(f"seed {seed} full data ({len(pool)} images): mAP@0.5 {report['full_data'][-1]['map_50']:.3f}")
        seed_set = rng.choice(len(pool), size=config.initial, replace=False)
        # the seed-set round is the same for every ranking (same images, same random_state): fit it once per seed
        first: tuple[DetectorLearner, tuple[float, float, dict[str, float]]] | None = None
        for name in strategies:
            ranking_rng = np.random.default_rng([seed, RANKINGS.index(name)])
            labelled = list(seed_set)
            curve: list[dict[str, float]] = []
            while True:
                subset = pool.subset(labelled)
                if first is not None and len(labelled) == config.initial:
                    learner, (map_50, map_50_95, per_class) = first
                else:
                    learner = DetectorLearner(**params).fit(subset.images, subset.targets, classes=data.classes)
                    map_50, map_50_95, per_class = _evaluate(learner, held_out)
                    if len(labelled) == config.initial:
                        first = learner, (map_50, map_50_95, per_class)
                curve.append({"images": len(labelled), "boxes": subset.n_boxes, "map_50": map_50,
                              "map_50_95": map_50_95, "ap_50": per_class})
                if on_round:
                    on_round(seed, name, curve[-1])
                if progress:
                    progress(f"seed {seed} {name}: {len(labelled)} images, mAP@0.5 {map_50:.3f}")
                if len(labelled) >= config.budget:
                    break
                rest = np.setdiff1d(np.arange(len(pool)), labelled)
                found, embeddings = learner.infer([pool.images[i] for i in rest])
                take = min(config.batch_size, config.budget - len(labelled))
                if name == "flip":
                    order = np.argsort(-flip_priority(learner, [pool.images[i] for i in rest], found, ranking_rng),
                                       kind="stable")
                elif name == "mc_dropout":
                    samples = learner.dropout_samples([pool.images[i] for i in rest], passes=8, rate=0.2,
                                                      seed=int(ranking_rng.integers(0, 2**31 - 1)))
                    order = np.argsort(-np.array([image_disagreement(s) for s in samples]), kind="stable")
                elif name == "sum_diverse":
                    order = select_diverse(priority("sum", found, ranking_rng), embeddings, take)
                elif name == "sum_rare":
                    counts = {c: sum(t.labels.count(c) for t in subset.targets) for c in data.classes}
                    weight = rare_class_weight(found, counts, data.classes)
                    order = np.argsort(-priority("sum", found, ranking_rng) * weight, kind="stable")
                else:
                    order = np.argsort(-priority(name, found, ranking_rng), kind="stable")
                labelled.extend(int(rest[i]) for i in order[:take])
            report["strategies"][name].append(curve)
    report["savings"] = savings(report, config.target_fraction)
    return report


def _first_reaching(curve: list[dict[str, float]], target: float) -> dict[str, float] | None:
    return next((point for point in curve if point["map_50"] >= target), None)


def savings(report: dict[str, Any], fraction: float) -> list[dict[str, Any]]:
    """Per ranking: mean images and boxes to ``fraction`` of the full-data mAP@0.5 over the seeds that reached it,
    how many seeds reached it, and the mean area under the mAP@0.5 curve (per image step)."""
    rows = []
    for name, curves in report["strategies"].items():
        reached = []
        for curve, full in zip(curves, report["full_data"], strict=True):
            point = _first_reaching(curve, fraction * full["map_50"])
            if point is not None:
                reached.append(point)
        area = float(np.mean([np.mean([p["map_50"] for p in curve]) for curve in curves]))
        rows.append({
            "strategy": name, "seeds_reached": len(reached), "seeds": len(curves),
            "images": float(np.mean([p["images"] for p in reached])) if reached else None,
            "boxes": float(np.mean([p["boxes"] for p in reached])) if reached else None,
            "mean_map_50": area,
            "final_map_50": float(np.mean([curve[-1]["map_50"] for curve in curves])),
            "final_boxes": float(np.mean([curve[-1]["boxes"] for curve in curves])),
        })
    return rows
