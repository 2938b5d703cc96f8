"""Simulation of a named-entity project: an oracle loop over a BIO file or a Label Studio span export.

The same protocol as the classification simulation (held-out test split, random seed set, rounds of
``batch_size`` up to ``budget``, several seeds, random always run beside the strategies), with the ``ner`` task
type's aggregations as strategies and its CRF learner. Cost is counted in sentences (tasks) and in tokens (what a
person reads): a strategy that favours long sentences must not look cheaper than it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelsieve.learners.spans import CrfSpanLearner
from labelsieve.spans.bio import tags_to_spans
from labelsieve.spans.readers import Sentence, SpanDataError, looks_like_bio, read_bio, read_ls_export
from labelsieve.spans.targets import SpanTarget
from labelsieve.tasktypes.ner import NamedEntities

RANDOM = "random"
TARGETS = (0.9, 0.95)


@dataclass(frozen=True)
class SpanSimulationConfig:
    strategies: tuple[str, ...]
    initial: int = 20
    batch_size: int = 20
    budget: int = 200
    seeds: int = 3
    test_fraction: float = 0.2
    base_seed: int = 0
    max_iterations: int = 50


def span_dataset(spec: str, *, data_key: str | None = None) -> list[Sentence] | None:
    """The sentences of ``spec`` when it is a span data set (a BIO file by content, or a Label Studio JSON export
    with ``labels`` regions), else ``None`` (the classification readers take it)."""
    path = Path(spec)
    if not path.is_file():
        return None
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".json" or raw.lstrip().startswith("["):
        try:
            tasks = json.loads(raw)
        except json.JSONDecodeError:
            return None
        has_spans = isinstance(tasks, list) and any(
            isinstance(region, dict) and region.get("type") == "labels"
            for task in tasks if isinstance(task, dict)
            for annotation in task.get("annotations") or [] if isinstance(annotation, dict)
            for region in annotation.get("result") or [])
        return read_ls_export(tasks, data_key=data_key) if has_spans else None
    if looks_like_bio(raw):
        return read_bio(raw, name=str(path))
    return None


def check_strategies(names: Sequence[str]) -> tuple[str, ...]:
    known = NamedEntities.aggregations
    unknown = [n for n in names if n != RANDOM and n not in known]
    if unknown:
        raise SpanDataError(f"strategy {unknown[0]!r} does not support task type 'ner'; span data sets take "
                            f"{RANDOM} and the ner aggregations: {', '.join(known)}")
    return tuple(dict.fromkeys([*names, RANDOM]))


def _target(sentence: Sentence) -> SpanTarget:
    spans = tags_to_spans(sentence.tokens, sentence.tags)
    return SpanTarget(tuple((s, sentence.text[s.start:s.end]) for s in spans), sentence.text)


def _fit(config: SpanSimulationConfig, sentences: list[Sentence]) -> CrfSpanLearner:
    return CrfSpanLearner(max_iterations=config.max_iterations).fit([s.text for s in sentences],
                                                                    [_target(s) for s in sentences])


def _f1(task_type: NamedEntities, learner: CrfSpanLearner, test: list[Sentence]) -> float:
    outputs = learner.predict_regions([s.text for s in test])
    return task_type.metrics([_target(s) for s in test], outputs, [])["entity_f1"]


def run_one(sentences: list[Sentence], config: SpanSimulationConfig, strategy: str, seed: int) -> dict[str, Any]:
    """One (strategy, seed) run: the learning curve with its cost in sentences and tokens."""
    task_type = NamedEntities()
    order = np.random.default_rng([config.base_seed, seed]).permutation(len(sentences))
    n_test = max(1, int(round(config.test_fraction * len(sentences))))
    test = [sentences[i] for i in order[:n_test]]
    pool = [sentences[i] for i in order[n_test:]]
    if len(pool) <= config.initial:
        raise SpanDataError(f"{len(pool)} pool sentences after the test split; need more than --initial "
                            f"{config.initial}")
    rng = np.random.default_rng([config.base_seed, seed, 1])
    labelled = list(range(config.initial))  # the pool is already shuffled: the seed set is random
    curve = []
    while True:
        learner = _fit(config, [pool[i] for i in labelled])
        curve.append({"sentences": len(labelled), "tokens": sum(len(pool[i].tokens) for i in labelled),
                      "entity_f1": _f1(task_type, learner, test)})
        room = min(config.batch_size, config.budget - len(labelled), len(pool) - len(labelled))
        if room <= 0:
            break
        rest = np.array(sorted(set(range(len(pool))) - set(labelled)))
        if strategy == RANDOM:
            chosen = rng.choice(rest, size=room, replace=False)
        else:
            outputs = learner.predict_regions([pool[i].text for i in rest])
            u = task_type.task_uncertainty(outputs, strategy)
            chosen = rest[np.lexsort((rng.random(len(rest)), -u))[:room]]
        labelled += [int(i) for i in chosen]
    full = _f1(task_type, _fit(config, pool), test)
    return {"strategy": strategy, "seed": seed, "curve": curve, "full_f1": full}


def cost_to(curve: list[dict[str, Any]], target: float, unit: str) -> float | None:
    """Sentences or tokens at the first round whose F1 reaches ``target`` (None: never within the budget)."""
    for point in curve:
        if point["entity_f1"] >= target:
            return float(point[unit])
    return None


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per strategy: median F1 per round, and median sentences/tokens to 90% and 95% of full-data F1."""
    summary: dict[str, Any] = {}
    for strategy in dict.fromkeys(r["strategy"] for r in runs):
        mine = [r for r in runs if r["strategy"] == strategy]
        rows = {}
        for fraction in TARGETS:
            for unit in ("sentences", "tokens"):
                costs = [cost_to(r["curve"], fraction * r["full_f1"], unit) for r in mine]
                reached = [c for c in costs if c is not None]
                rows[f"{unit}_to_{int(fraction * 100)}"] = {
                    "median": float(np.median(reached)) if len(reached) == len(costs) else None,
                    "reached": f"{len(reached)}/{len(costs)}"}
        length = min(len(r["curve"]) for r in mine)
        rows["curve"] = [{"sentences": int(np.median([r["curve"][k]["sentences"] for r in mine])),
                          "tokens": int(np.median([r["curve"][k]["tokens"] for r in mine])),
                          "entity_f1": float(np.median([r["curve"][k]["entity_f1"] for r in mine]))}
                         for k in range(length)]
        summary[strategy] = rows
    return summary


def simulate_spans(sentences: list[Sentence], config: SpanSimulationConfig,
                   on_run: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    strategies = check_strategies(config.strategies)
    runs = []
    for seed in range(config.seeds):
        for strategy in strategies:
            runs.append(run_one(sentences, config, strategy, seed))
            if on_run is not None:
                on_run(strategy, seed)
    return {"task_type": "ner", "unit": "tokens", "sentences": len(sentences),
            "tokens": sum(len(s.tokens) for s in sentences), "config": config.__dict__,
            "full_f1": float(np.median([r["full_f1"] for r in runs])), "summary": summarise(runs), "runs": runs}
