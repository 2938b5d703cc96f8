"""Scorecard of a labelled set: cross-fit → cleanlab → value (KNN-Shapley, influence) → redundancy → rules."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelsieve.quality.crossfit import out_of_fold
from labelsieve.quality.influence import head_influence
from labelsieve.quality.issues import find_issues
from labelsieve.quality.redundancy import nearest_neighbour
from labelsieve.quality.scorecard import ScoreRow, build_rows, summary
from labelsieve.quality.value import knn_shapley

KNN_K = 5


@dataclass
class Assessment:
    rows: list[ScoreRow]
    k: int
    mode: str
    seconds: dict[str, float] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)  # issues.Reliability: are candidates shown, and why

    @property
    def summary(self) -> dict[str, Any]:
        return {**summary(self.rows), "folds": self.k, "mode": self.mode, "gate": self.gate,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def assess(
    *,
    inputs: Sequence[Any],
    labels: Sequence[str],
    task_ids: Sequence[int],
    annotation_ids: Sequence[int],
    learner: Any,
    make_learner: Callable[[], Any],
    mode: str = "auto",
    max_folds: int = 5,
    seed: int = 0,
) -> Assessment:
    """Score every labelled item; ``learner`` is the fitted serving learner (its ``embed`` is the value space)."""
    clock = {"start": time.perf_counter()}
    labels = list(labels)
    embeddings = np.asarray(learner.embed(inputs), dtype=np.float32)
    clock["embed"] = time.perf_counter()
    oof = out_of_fold(inputs=inputs, y=labels, keys=list(task_ids), make_learner=make_learner,
                      input_kind=learner.input_kind, embeddings=embeddings, mode=mode, max_folds=max_folds, seed=seed)
    clock["crossfit"] = time.perf_counter()
    issues = find_issues(labels, oof.proba, oof.classes)
    clock["cleanlab"] = time.perf_counter()
    index = {c: j for j, c in enumerate(oof.classes)}
    y_index = np.array([index[c] for c in labels])
    value = knn_shapley(embeddings, y_index, k=KNN_K, rng=np.random.default_rng(seed))
    influence = head_influence(embeddings, y_index, len(oof.classes), folds=oof.folds)
    clock["value"] = time.perf_counter()
    neighbour, similarity = nearest_neighbour(embeddings)
    clock["redundancy"] = time.perf_counter()
    rows = build_rows(
        task_ids=list(task_ids), annotation_ids=list(annotation_ids), labels=labels, suggested=issues.suggested,
        suggested_confidence=issues.suggested_confidence, issue_score=issues.issue_score, flagged=issues.flagged,
        wrong_probability=issues.wrong_probability,
        value=value, influence=influence, proba=oof.proba, neighbour=neighbour, similarity=similarity,
    )
    names = list(clock)
    seconds = {names[i]: clock[names[i]] - clock[names[i - 1]] for i in range(1, len(names))}
    gate = issues.reliability.to_dict() if issues.reliability is not None else {}
    return Assessment(rows=rows, k=oof.k, mode=oof.mode, seconds=seconds, gate=gate)
