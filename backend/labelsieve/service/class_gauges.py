"""The per-class gauges of a project (labels per class, labelled total, imbalance ratio) after each fit."""

from __future__ import annotations

from collections import Counter

from labelsieve.balancing.prepare import imbalance_ratio
from labelsieve.metrics import Metrics


def observe_classes(metrics: Metrics, project_id: int, counts: Counter[str]) -> None:
    """Set the gauges to ``counts``; a class whose last label was removed or changed drops to 0."""
    seen = {s.labels["label"] for metric in metrics.class_count.collect() for s in metric.samples
            if s.labels.get("project") == str(project_id)}
    for label in seen - set(counts):
        metrics.class_count.labels(str(project_id), label).set(0)
    for label, count in counts.items():
        metrics.class_count.labels(str(project_id), label).set(count)
    metrics.labeled.labels(str(project_id)).set(sum(counts.values()))
    if counts:
        metrics.imbalance_ratio.labels(str(project_id)).set(imbalance_ratio(counts))
