"""Label issues of the task types beyond single-label (multi-label, spans, boxes): cross-fit → the type's cleanlab
finder → the type's gate → scorecard rows with a review result.

1. **Cross-fitting**: K fresh learners of the project's recipe (K = ``max_folds``, fewer with few items), each
   fitted on the other folds' targets; the type's :meth:`~labelsieve.tasktypes.base.TaskType.issue_outputs` of
   the held-out fold (per-label probabilities, per-token marginals, boxes) is what no model saw the label of.
   Folds are a function of the task id (:func:`labelsieve.quality.crossfit.stable_folds`): an item keeps its fold
   while labels arrive.
2. **Finder**: the type's :meth:`~labelsieve.tasktypes.base.TaskType.label_issues` (cleanlab's multilabel,
   token-classification or object-detection module) gives per task an issue score, cleanlab's flag, the
   suggestion and a reason a reviewer reads (which label is missing or wrong; which token span and what tag;
   which box looks swapped, badly located or overlooked).
3. **Gate**: the type's :meth:`~labelsieve.tasktypes.base.TaskType.issue_gate` (the single-label gate's rule per
   kind: enough of the rarest class, and a model at least halfway from the trivial baseline to perfect). Below
   it nothing is flagged and the gate says why.

A flagged item is recommended for **review** (never prune: pruning ranks items by KNN-Shapley value and
influence, which need one class per item), and carries ``review_result``: the out-of-fold suggestion as a Label
Studio result of the project's config (:meth:`~labelsieve.tasktypes.base.TaskType.review_result`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelsieve.learners.base import TrainingDataError
from labelsieve.quality.assess import Assessment
from labelsieve.quality.crossfit import stable_folds
from labelsieve.quality.scorecard import ScoreRow

MIN_ITEMS = 4  # fewer labelled tasks than this: no cross-fitting (two folds of two)


@dataclass
class RegionOutOfFold:
    outputs: Any  # (n, n_labels) array, or one output per item (spans, boxes)
    folds: np.ndarray
    k: int


def cross_fit(*, inputs: Sequence[Any], targets: Sequence[Any], keys: Sequence[int], task_type: Any,
              labels: Sequence[str], make_learner: Callable[[], Any], max_folds: int = 5,
              seed: int = 0) -> RegionOutOfFold:
    """Out-of-fold outputs of the type (a fold's fit error, e.g. one label set only, propagates)."""
    n = len(targets)
    k = max(2, min(max_folds, n // 2))
    folds = stable_folds(keys, ["*"] * n, k, seed)
    per_item: list[Any] = [None] * n
    stacked = False
    for fold in range(k):
        test = np.flatnonzero(folds == fold)
        train = np.flatnonzero(folds != fold)
        if len(test) == 0:
            continue
        learner = make_learner()
        learner.fit([inputs[i] for i in train], [targets[i] for i in train])
        found = task_type.issue_outputs(learner, [inputs[i] for i in test], labels)
        stacked = stacked or isinstance(found, np.ndarray)
        for i, output in zip(test, found, strict=True):
            per_item[int(i)] = output
    outputs = np.vstack(per_item) if stacked else per_item
    return RegionOutOfFold(outputs=outputs, folds=folds, k=k)


def assess_regions(*, inputs: Sequence[Any], targets: Sequence[Any], task_ids: Sequence[int],
                   annotation_ids: Sequence[int], task_type: Any, config: Any,
                   make_learner: Callable[[], Any], max_folds: int = 5, seed: int = 0) -> Assessment:
    """Score every labelled task of a region type; rows worst first (see the module docstring)."""
    labels = list(config.labels)
    started = time.perf_counter()
    try:
        oof = cross_fit(inputs=inputs, targets=targets, keys=list(task_ids), task_type=task_type, labels=labels,
                        make_learner=make_learner, max_folds=max_folds, seed=seed)
    except TrainingDataError as exc:  # a fold the learner cannot fit (e.g. one label set): nothing to judge yet
        gate = {"shown": False, "reason": f"cross-fitting failed: {exc}", "measure": "none", "value": 0.0,
                "level": 1.0, "smallest": 0, "min_count": 0}
        return Assessment(rows=[], k=0, mode="refit", gate=gate)
    fitted = time.perf_counter()
    issues = task_type.label_issues(list(targets), oof.outputs, labels)
    gate = task_type.issue_gate(list(targets), oof.outputs, labels)
    judged = time.perf_counter()
    flagged = np.asarray(issues.flagged, dtype=bool) & gate.shown
    reasons = issues.reasons or [""] * len(targets)
    rows = []
    for i, task_id in enumerate(task_ids):
        review = bool(flagged[i])
        confidence = float(issues.suggested_confidence[i])
        rows.append(ScoreRow(
            task_id=int(task_id), annotation_id=int(annotation_ids[i]), label=task_type.describe(targets[i]),
            suggested_label=task_type.describe(issues.suggested[i]), suggested_confidence=round(confidence, 6),
            issue_score=round(float(issues.issue_score[i]), 6), flagged=review, value=None, influence=None,
            uncertainty=round(1.0 - confidence, 6), duplicate_of=None, similarity=None,
            recommendation="review" if review else "keep",
            reason=(reasons[i] or "label issue (cleanlab)") if review else "",
            review_result=task_type.review_result(config, oof.outputs[i]) if review else None,
        ))
    rows.sort(key=lambda r: (-r.issue_score, r.task_id))
    return Assessment(rows=rows, k=oof.k, mode="refit", gate=gate.to_dict(),
                      seconds={"crossfit": fitted - started, "cleanlab": judged - fitted})
