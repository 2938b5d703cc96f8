"""Prometheus metrics, one registry per app (no process-global collectors)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
TRAIN_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "labelsieve_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "labelsieve_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.webhook_events = Counter(
            "labelsieve_webhook_events_total", "Webhook events received", ["action"], registry=r
        )
        self.retrains = Counter("labelsieve_retrains_total", "Retrains", ["project", "status"], registry=r)
        self.retrain_duration = Histogram(
            "labelsieve_retrain_duration_seconds", "Retrain wall time (fit + rank)", ["project"],
            buckets=TRAIN_BUCKETS, registry=r,
        )
        self.slot_waits = Counter(
            "labelsieve_training_slot_waits_total", "Rounds that waited for another project's round to free a "
            "training slot", ["project"], registry=r,
        )
        self.slot_wait = Histogram(
            "labelsieve_training_slot_wait_seconds", "How long a round that waited for a training slot waited",
            ["project"], buckets=TRAIN_BUCKETS, registry=r,
        )
        self.queue_length = Gauge(
            "labelsieve_queue_length", "Webhook events stored but not applied yet", registry=r
        )
        self.waiting_events = Gauge(
            "labelsieve_events_waiting_for_label_studio",
            "Webhook events of a project that wait because Label Studio is unreachable, refused the key or "
            "answered 5xx (0 when they apply)", ["project"], registry=r,
        )
        self.failures = Counter("labelsieve_failures_total", "Failures by kind", ["kind"], registry=r)
        self.predictions = Counter("labelsieve_predictions_total", "Task predictions served", registry=r)
        self.model_version = Gauge(
            "labelsieve_model_version_number", "Serving model version number", ["project"], registry=r
        )
        self.labeled = Gauge("labelsieve_labeled_tasks", "Labelled tasks used for training", ["project"], registry=r)
        self.class_count = Gauge(
            "labelsieve_class_count", "Labelled examples per class", ["project", "label"], registry=r
        )
        self.imbalance_ratio = Gauge(
            "labelsieve_imbalance_ratio", "Largest / smallest class count", ["project"], registry=r
        )

        self.drift_detected = Gauge(
            "labelsieve_drift_detected", "Latest drift check: 1 drift, 0 none, -1 too few to tell",
            ["project", "kind"], registry=r)
        self.drift_p_value = Gauge("labelsieve_drift_p_value", "Feature drift: MMD permutation p-value of the new "
                                   "tasks against the earlier ones", ["project"], registry=r)
        self.drift_mmd2 = Gauge("labelsieve_drift_mmd2", "Feature drift: squared MMD (effect size)", ["project"],
                                registry=r)
        self.window_accuracy = Gauge("labelsieve_prequential_window_accuracy", "Accuracy over ADWIN's current "
                                     "window of the prequential stream", ["project"], registry=r)

    def set_drift(self, project: int, block: dict[str, Any]) -> None:
        label = str(project)
        for kind, part in (("any", block), ("features", block.get("features")), ("accuracy", block.get("accuracy"))):
            verdict = (part or {}).get("detected")
            self.drift_detected.labels(label, kind).set(-1 if verdict is None else int(bool(verdict)))
        features, accuracy = block.get("features") or {}, block.get("accuracy") or {}
        for gauge, value in ((self.drift_p_value, features.get("p_value")), (self.drift_mmd2, features.get("mmd2")),
                             (self.window_accuracy, accuracy.get("window_accuracy"))):
            if value is not None:
                gauge.labels(label).set(float(value))

    def render(self) -> bytes:
        return generate_latest(self.registry)
