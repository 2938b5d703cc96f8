"""Class counts and imbalance ratio in /metrics follow the labels, including a class that lost its labels."""

from __future__ import annotations

from collections import Counter

from labelsieve.metrics import Metrics
from labelsieve.service.class_gauges import observe_classes


def gauges(metrics: Metrics) -> dict[str, float]:
    out = {}
    for line in metrics.render().decode().splitlines():
        if line.startswith(("labelsieve_class_count{", "labelsieve_imbalance_ratio{")):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_class_counts_and_imbalance_ratio_track_the_current_labels() -> None:
    metrics = Metrics()
    observe_classes(metrics, 3, Counter({"normal": 500, "defect": 5}))
    observe_classes(metrics, 4, Counter({"cat": 3}))
    assert gauges(metrics)['labelsieve_imbalance_ratio{project="3"}'] == 100.0
    observe_classes(metrics, 3, Counter({"normal": 500, "scratch": 50}))  # every "defect" label was changed
    now = gauges(metrics)
    assert now['labelsieve_class_count{label="defect",project="3"}'] == 0.0
    assert now['labelsieve_class_count{label="scratch",project="3"}'] == 50.0
    assert now['labelsieve_imbalance_ratio{project="3"}'] == 10.0
    assert now['labelsieve_class_count{label="cat",project="4"}'] == 3.0
