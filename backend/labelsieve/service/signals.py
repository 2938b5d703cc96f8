"""The project's own prequential signal for strategies that adapt (``PoolContext.prequential_accuracy``).

When a label arrives, the intake stores what the serving model predicted for that task before it trained on it
(``Annotation.predicted_labels`` / ``predicted_version``). The latest version with such labels is the one that
chose them; its accuracy on them is the signal.
"""

from __future__ import annotations

from collections.abc import Sequence

from labelsieve.storage.models import Annotation, Task


def latest_prequential_accuracy(examples: Sequence[tuple[Task, Annotation]]) -> float | None:
    """Accuracy of the most recent model version on the labels scored against it, or None before any."""
    groups: dict[str, list[bool]] = {}
    newest: dict[str, int] = {}
    for _, ann in examples:
        if not ann.predicted_version or not ann.predicted_labels or not ann.labels:
            continue
        groups.setdefault(ann.predicted_version, []).append(ann.predicted_labels[0] == ann.labels[0])
        newest[ann.predicted_version] = max(newest.get(ann.predicted_version, -1), int(ann.id or 0))
    if not groups:
        return None
    latest = max(newest, key=lambda version: newest[version])
    return sum(groups[latest]) / len(groups[latest])
