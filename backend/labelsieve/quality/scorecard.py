"""One row per labelled item: value, label-issue score, uncertainty, redundancy, and a recommendation.

Rules (documented in the README, checked by the tests):

- **prune**: cleanlab flags the label (``find_label_issues``) AND its KNN-Shapley value is negative (its
  neighbours carry another label) AND the last-layer influence is negative (removing it lowers the loss of the
  others) AND the out-of-fold model gives the suggested label at least ``prune_confidence`` (0.5). Four
  independent signals must agree; and only in a set of at least ``min_items`` (200) labelled items where
  cleanlab flags at least ``min_flagged_fraction`` (2%): a smaller set's cross-fitted model is too weak to tell a
  wrong label from a hard item, and below 2% the flags are within the learner's own error on clean data
  (clean digits: 0.3-0.6% flagged), so they go to review and nothing is pruned. Digits with no noise:
  0 pruned; 10% flipped: 72 pruned, all flips.
- **review**: flagged by cleanlab but not all of the above, or a near-duplicate (cosine ≥ ``duplicate_cosine``)
  of an item that carries a different label.
- **keep**: everything else; a near-duplicate with the same label is kept (``redundant`` is reported, it costs
  little and pruning it cannot fix anything).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

PRUNE_CONFIDENCE = 0.5
DUPLICATE_COSINE = 0.99
MIN_FLAGGED_FRACTION = 0.02
MIN_ITEMS_TO_PRUNE = 200


@dataclass
class ScoreRow:
    task_id: int
    annotation_id: int
    label: str
    suggested_label: str
    suggested_confidence: float
    issue_score: float
    flagged: bool
    value: float | None  # KNN-Shapley (None for region task types: no class per item to value)
    influence: float | None  # last-layer influence on the others' loss (positive = helps; None as value)
    uncertainty: float  # 1 - out-of-fold probability of the most likely class
    duplicate_of: int | None  # task id of the most similar labelled item when cosine >= DUPLICATE_COSINE
    similarity: float | None  # cosine to that item (None for region task types)
    recommendation: str  # keep | review | prune
    reason: str
    wrong_probability: float | None = None  # posterior that the given label is wrong (quality.issues)
    #: region task types: the review prediction's Label Studio result (the out-of-fold suggestion, built by the
    #: task type); None for single-label rows, whose review result is the suggested label
    review_result: list[dict[str, Any]] | None = None


def recommend(
    *, flagged: bool, value: float, influence: float, suggested_confidence: float, conflict_duplicate: bool,
    prune_confidence: float = PRUNE_CONFIDENCE, prune_allowed: bool = True,
) -> tuple[str, str]:
    if flagged and not prune_allowed:
        return "review", "label issue (cleanlab); too few issues in the set to prune"
    if flagged and value < 0 and influence < 0 and suggested_confidence >= prune_confidence:
        return "prune", "label issue; negative value and influence; model confident in another label"
    if flagged:
        return "review", "label issue (cleanlab)"
    if conflict_duplicate:
        return "review", "near-duplicate of an item with another label"
    return "keep", ""


def build_rows(
    *, task_ids: list[int], annotation_ids: list[int], labels: list[str], suggested: list[str],
    suggested_confidence: np.ndarray, issue_score: np.ndarray, flagged: np.ndarray, value: np.ndarray,
    influence: np.ndarray, proba: np.ndarray, neighbour: np.ndarray, similarity: np.ndarray,
    wrong_probability: np.ndarray | None = None,
    duplicate_cosine: float = DUPLICATE_COSINE, prune_confidence: float = PRUNE_CONFIDENCE,
    min_flagged_fraction: float = MIN_FLAGGED_FRACTION, min_items: int = MIN_ITEMS_TO_PRUNE,
) -> list[ScoreRow]:
    rows = []
    prune_allowed = len(task_ids) >= min_items and float(np.mean(flagged)) >= min_flagged_fraction
    for i, task_id in enumerate(task_ids):
        j = int(neighbour[i])
        duplicate = j >= 0 and float(similarity[i]) >= duplicate_cosine
        recommendation, reason = recommend(
            flagged=bool(flagged[i]), value=float(value[i]), influence=float(influence[i]),
            suggested_confidence=float(suggested_confidence[i]),
            conflict_duplicate=duplicate and labels[j] != labels[i], prune_confidence=prune_confidence,
            prune_allowed=prune_allowed,
        )
        if recommendation == "keep" and duplicate:
            reason = "redundant: near-duplicate with the same label"
        rows.append(ScoreRow(
            task_id=int(task_id), annotation_id=int(annotation_ids[i]), label=labels[i],
            suggested_label=suggested[i], suggested_confidence=round(float(suggested_confidence[i]), 6),
            issue_score=round(float(issue_score[i]), 6), flagged=bool(flagged[i]), value=float(value[i]),
            influence=float(influence[i]), uncertainty=round(float(1.0 - proba[i].max()), 6),
            duplicate_of=int(task_ids[j]) if duplicate else None, similarity=round(float(similarity[i]), 6),
            recommendation=recommendation, reason=reason,
            wrong_probability=None if wrong_probability is None else round(float(wrong_probability[i]), 6),
        ))
    rows.sort(key=lambda r: (-r.issue_score, r.task_id))  # worst first
    return rows


def summary(rows: list[ScoreRow]) -> dict[str, Any]:
    counts = {name: sum(r.recommendation == name for r in rows) for name in ("keep", "review", "prune")}
    return {"items": len(rows), "flagged": sum(r.flagged for r in rows), **counts,
            "redundant": sum(r.duplicate_of is not None for r in rows)}


COLUMNS = [f.name for f in fields(ScoreRow)]


def to_csv(rows: list[ScoreRow]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        record = asdict(row)
        if record["review_result"] is not None:
            record["review_result"] = json.dumps(record["review_result"])
        writer.writerow(record)
    return buffer.getvalue()


def to_records(rows: list[ScoreRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def from_records(records: list[dict[str, Any]]) -> list[ScoreRow]:
    return [ScoreRow(**{k: record.get(k) for k in COLUMNS}) for record in records]
