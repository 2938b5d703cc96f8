"""Training without some labelled items, as a scorecard says; nothing is deleted.

- ``prune: "flagged"``: without the items the scorecard marks prune;
- ``prune: {"keep_top": 0.85}``: on the top 85% of the scored items by the scorecard's value (KNN-Shapley: how much
  an item's label helps its neighbours be classified right); the rest, the lowest values, are left out. Ties in
  value go by task id. Items labelled after the scorecard (no value yet) and items whose label changed since are
  trained on. Measured on clean and noisy labels in ``benchmarks/results/pruning.md``: it is off by default.

Nothing is deleted anywhere: the annotation stays in Label Studio and in labelsieve's store; it is only left
out of the next fit, and the version's metrics (``pruned``) and ``GET /projects/{id}/issues`` say which. An item
whose label changed since the scorecard (someone fixed it) is trained on again.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from labelsieve.quality.scorecard import ScoreRow

T = TypeVar("T")


def prune_set(rows: list[ScoreRow]) -> dict[int, str]:
    """annotation id → the label the scorecard judged, for every row marked prune."""
    return {r.annotation_id: r.label for r in rows if r.recommendation == "prune"}


def keep_top_count(share: float, n: int) -> int:
    """How many of ``n`` scored items ``keep_top=share`` keeps: the share rounded up (never fewer), at least one."""
    return min(n, max(1, math.ceil(share * n - 1e-9)))


def keep_top(examples: list[tuple[T, Any]], rows: list[ScoreRow],
             share: float) -> tuple[list[tuple[T, Any]], list[int], dict[str, Any]]:
    """(examples to train on, annotation ids left out, the rule as applied: share, value threshold, counts)."""
    judged = {r.annotation_id: r for r in rows}
    scored = [(task, a) for task, a in examples
              if int(a.id) in judged and judged[int(a.id)].value is not None  # region rows have no value
              and a.labels and a.labels[0] == judged[int(a.id)].label]
    order = sorted(scored, key=lambda e: (-judged[int(e[1].id)].value, int(e[0].id)))
    n_keep = keep_top_count(share, len(order)) if order else 0
    dropped = {int(a.id) for _, a in order[n_keep:]}
    kept = [(task, a) for task, a in examples if int(a.id) not in dropped]
    threshold = judged[int(order[n_keep - 1][1].id)].value if order else None
    rule = {"keep_top": share, "scored": len(order), "kept_scored": n_keep, "left_out": len(dropped),
            "unscored_kept": len(examples) - len(order), "value_threshold": threshold}
    return kept, sorted(dropped), rule


def exclude(examples: list[tuple[T, Any]], rows: list[ScoreRow]) -> tuple[list[tuple[T, Any]], list[int]]:
    """(examples to train on, annotation ids left out); ``examples`` are (task, annotation) pairs."""
    marked = prune_set(rows)
    kept, left_out = [], []
    for task, annotation in examples:
        judged = marked.get(int(annotation.id))
        if judged is not None and annotation.labels and annotation.labels[0] == judged:
            left_out.append(int(annotation.id))
        else:
            kept.append((task, annotation))
    return kept, left_out
