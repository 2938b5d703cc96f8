"""Training without the items a scorecard marks prune (project setting ``prune: "flagged"``).

Nothing is deleted anywhere: the annotation stays in Label Studio and in labelsieve's store; it is only left
out of the next fit, and the version's metrics (``pruned``) and ``GET /projects/{id}/issues`` say which. An item
whose label changed since the scorecard (someone fixed it) is trained on again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from labelsieve.quality.scorecard import ScoreRow

T = TypeVar("T")


def prune_set(rows: list[ScoreRow]) -> dict[int, str]:
    """annotation id → the label the scorecard judged, for every row marked prune."""
    return {r.annotation_id: r.label for r in rows if r.recommendation == "prune"}


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
