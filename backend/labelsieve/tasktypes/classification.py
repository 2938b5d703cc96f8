"""Classification task types: one ``<Choices>`` answer per task (single-label) and several (multi-label).

Single-label is what labelsieve always served, routed through the contract unchanged: the target is the one
chosen label, the prediction one ``choices`` region whose ``score`` is the top class's probability.

Multi-label serves ``<Choices choice="multiple">`` and ``<Taxonomy>`` (flattened to its leaves: a leaf is a
label, the result carries its path). The model gives one probability per label (one-vs-rest,
:class:`labelsieve.learners.multilabel.MultiLabelLearner`) and a per-label threshold; the predicted set is the
labels at or above their threshold. The prediction is one region holding the set, its ``score`` the probability
that the whole set is right under label independence (``prod_j max(p_j, 1 - p_j)``): that is also what the
pre-annotation gate compares with the project's threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.etree.ElementTree import Element

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from labelsieve.labelconfig import LabelConfig, UnsupportedLabelConfig, labels_from_result, parse_label_config
from labelsieve.tasktypes import multilabel_math as mlm
from labelsieve.tasktypes.base import (
    GATE_MIN_PER_CLASS,
    GATE_MIN_SKILL,
    IssueGate,
    TaskLabelIssues,
    TaskType,
    judge_gate,
)
from labelsieve.tasktypes.taxonomy import parse_taxonomy, taxonomy_element


@dataclass(frozen=True)
class ClassPrediction:
    """One task's classification output: the predicted labels and how sure the model is of that answer."""

    labels: tuple[str, ...]
    confidence: float


def _choices_controls(root: Element, *, multiple: bool) -> list[Element]:
    found = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag.lower() != "choices" or el.get("toName") is None:
            continue
        if ((el.get("choice") or "single").lower() == "multiple") == multiple:
            found.append(el)
    return found


def _region(config: LabelConfig, labels: Sequence[str], score: float) -> dict[str, Any]:
    if config.control == "taxonomy":
        path_of = dict(zip(config.labels, config.paths, strict=True))
        value: dict[str, Any] = {"taxonomy": [list(path_of[label]) for label in labels]}
    else:
        value = {"choices": list(labels)}
    return {"from_name": config.from_name, "to_name": config.to_name, "type": config.control, "value": value,
            "score": float(score)}


class SingleLabel(TaskType):
    """One label per task from a single-choice ``<Choices>`` on ``<Text>`` or ``<Image>`` (labelsieve's original
    type). Its one region is the task, so the aggregation is the uncertainty of that region's class distribution;
    the default, least confidence (1 - top probability), is Label Studio's own meaning of a prediction score."""

    name: ClassVar[str] = "single_label"
    unit: ClassVar[str] = "tasks"
    aggregations: ClassVar[dict[str, str]] = {
        "least_confidence": "1 - the top class's probability",
        "margin": "1 - (top1 - top2) probability gap",
        "entropy": "Shannon entropy of the class distribution",
    }
    default_aggregation: ClassVar[str] = "least_confidence"
    supports_balancing: ClassVar[bool] = True

    def reads(self, root: Element) -> list[Element]:
        return _choices_controls(root, multiple=False)

    def parse_config(self, xml: str) -> LabelConfig:
        return parse_label_config(xml)

    def target(self, result: list[dict[str, Any]] | None, config: LabelConfig) -> str | None:
        labels = labels_from_result(result, config)
        return labels[0] if labels else None

    def decode(self, probas: np.ndarray, classes: Sequence[str], thresholds: np.ndarray | None = None,
               ) -> list[ClassPrediction]:
        """Model probabilities ``(n, n_classes)`` -> one :class:`ClassPrediction` per task (the top class)."""
        top = np.argmax(probas, axis=1) if len(probas) else np.zeros(0, dtype=np.int64)
        return [ClassPrediction((classes[int(j)],), float(probas[i, j])) for i, j in enumerate(top)]

    def prediction_result(self, config: LabelConfig, output: ClassPrediction, *,
                          preannotate: bool) -> list[dict[str, Any]]:
        return [_region(config, output.labels, output.confidence)] if preannotate and output.labels else []

    def task_uncertainty(self, outputs: np.ndarray, aggregation: str | None = None) -> np.ndarray:
        probas = np.asarray(outputs, dtype=np.float64)
        name = aggregation or self.default_aggregation
        if len(probas) == 0:
            return np.zeros(0)
        if name == "least_confidence":
            return 1.0 - probas.max(axis=1)
        if name == "margin":
            top2 = np.sort(probas, axis=1)[:, -2:] if probas.shape[1] > 1 else np.hstack([probas * 0, probas])
            return 1.0 - (top2[:, 1] - top2[:, 0])
        if name == "entropy":
            p = np.clip(probas, 1e-12, 1.0)
            return -(p * np.log(p)).sum(axis=1)
        raise ValueError(f"unknown aggregation {name!r} for task type {self.name!r}; "
                         f"choose from {sorted(self.aggregations)}")

    def metrics(self, y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        return {"accuracy": float(accuracy_score(y_true, y_pred)),
                "macro_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="macro", zero_division=0))}

    def label_issues(self, targets: Sequence[str], outputs: np.ndarray, labels: Sequence[str]) -> TaskLabelIssues:
        return mlm.single_label_issues(targets, np.asarray(outputs, dtype=np.float64), labels)

    def balancing_key(self, target: str) -> str:
        return target

    def target_from_cell(self, cell: str, config: LabelConfig) -> str | None:
        value = str(cell).strip()
        return value or None

    def default_learner(self, config: LabelConfig, base: str, base_params: dict[str, Any],
                        ) -> tuple[str, dict[str, Any]]:
        return base, base_params


class MultiLabel(TaskType):
    """Several labels per task: ``<Choices choice="multiple">`` or a ``<Taxonomy>`` (leaves are the labels).

    Per label ``j`` the model gives ``p_j``; the aggregations turn the per-label binary uncertainties into one
    task score (see :mod:`labelsieve.tasktypes.multilabel_math`). The default, ``mean`` binary entropy, is what
    benchmarks/multilabel.py measured best-or-tied among the three on the packaged data (benchmarks/results/
    multilabel.md). Cost is counted in labels: the labels a person ticks on the task (at least 1: looking at a
    task and ticking nothing still costs a decision)."""

    name: ClassVar[str] = "multi_label"
    unit: ClassVar[str] = "labels"
    aggregations: ClassVar[dict[str, str]] = mlm.AGGREGATIONS
    default_aggregation: ClassVar[str] = "mean"
    default_strategy: ClassVar[str | None] = "multilabel_uncertainty"  # with the default aggregation, mean
    no_region_rule: ClassVar[str] = (
        "a task with no label above its threshold is the empty set, not a missing region: its score is the same "
        "aggregation of every label's probability, so tasks whose labels all sit just below threshold rank high")

    def reads(self, root: Element) -> list[Element]:
        taxonomies = [el for el in root.iter()
                      if isinstance(el.tag, str) and el.tag.lower() == "taxonomy" and el.get("toName") is not None]
        return _choices_controls(root, multiple=True) + taxonomies

    def parse_config(self, xml: str) -> LabelConfig:
        if taxonomy_element(xml) is not None:
            return parse_taxonomy(xml)
        config = parse_label_config(xml)
        if not config.multiple:
            raise UnsupportedLabelConfig('the multi_label task type needs <Choices choice="multiple">')
        return config

    def target(self, result: list[dict[str, Any]] | None, config: LabelConfig) -> tuple[str, ...] | None:
        labels = labels_from_result(result, config)
        return tuple(labels) if labels else None

    def decode(self, probas: np.ndarray, classes: Sequence[str], thresholds: np.ndarray | None = None,
               ) -> list[ClassPrediction]:
        """Per-label probabilities ``(n, n_labels)`` -> the labels at or above threshold and P(set is right)."""
        probas = np.asarray(probas, dtype=np.float64)
        t = np.full(probas.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        chosen = probas >= t
        confidence = mlm.set_confidence(probas, t)
        return [ClassPrediction(tuple(classes[j] for j in np.flatnonzero(row)), float(c))
                for row, c in zip(chosen, confidence, strict=True)]

    def prediction_result(self, config: LabelConfig, output: ClassPrediction, *,
                          preannotate: bool) -> list[dict[str, Any]]:
        return [_region(config, output.labels, output.confidence)] if preannotate and output.labels else []

    def task_uncertainty(self, outputs: Any, aggregation: str | None = None) -> np.ndarray:
        probas, thresholds = outputs if isinstance(outputs, tuple) else (outputs, None)
        return mlm.aggregate(np.asarray(probas, dtype=np.float64), aggregation or self.default_aggregation,
                             thresholds)

    def metrics(self, y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]],
                labels: Sequence[str]) -> dict[str, float]:
        return mlm.multilabel_metrics(mlm.indicator(y_true, labels), mlm.indicator(y_pred, labels))

    def label_issues(self, targets: Sequence[Sequence[str]], outputs: np.ndarray,
                     labels: Sequence[str]) -> TaskLabelIssues:
        return mlm.multilabel_issues(targets, np.asarray(outputs, dtype=np.float64), labels)

    def issue_gate(self, targets: Sequence[Sequence[str]], outputs: np.ndarray, labels: Sequence[str]) -> IssueGate:
        """The single-label gate per label decision: the rarest label given to at least 20 tasks, and out-of-fold
        label-decision accuracy (1 - Hamming loss at 0.5) at least halfway from the per-label majority baseline
        (every label at its more frequent value) to 1."""
        given = mlm.indicator(targets, labels)
        counts = given.sum(axis=0)
        rate = given.mean(axis=0) if len(given) else np.zeros(len(labels))
        baseline = float(np.maximum(rate, 1 - rate).mean()) if len(labels) else 1.0
        accuracy = float(((np.asarray(outputs) >= 0.5) == (given == 1)).mean()) if len(given) else 0.0
        return judge_gate(measure="out-of-fold label-decision accuracy", value=accuracy,
                          level=baseline + GATE_MIN_SKILL * (1 - baseline),
                          smallest=int(counts[counts > 0].min()) if (counts > 0).any() else 0,
                          min_count=GATE_MIN_PER_CLASS, unit="tasks")

    def describe(self, target: Sequence[str]) -> str:
        return ", ".join(target) or "no label"

    def review_result(self, config: LabelConfig, output: np.ndarray) -> list[dict[str, Any]]:
        """The labels whose out-of-fold probability is at least 0.5 (the suggestion cleanlab's finder makes)."""
        row = np.asarray(output, dtype=np.float64).reshape(1, -1)
        return self.prediction_result(config, self.decode(row, config.labels)[0], preannotate=True)

    def balancing_key(self, target: tuple[str, ...]) -> str | None:
        return None  # resampling a label set by one class key would distort the other labels: no balancing

    def target_from_cell(self, cell: str, config: LabelConfig) -> tuple[str, ...] | None:
        parts = [p.strip() for p in str(cell).split("|") if p.strip()]
        unknown = [p for p in parts if p not in config.labels]
        if unknown:
            raise ValueError(f"label(s) {unknown} are not in the label config's labels {list(config.labels)}")
        return tuple(label for label in config.labels if label in parts) or None

    def cost(self, target: tuple[str, ...]) -> int:
        return max(1, len(target))

    def default_learner(self, config: LabelConfig, base: str, base_params: dict[str, Any],
                        ) -> tuple[str, dict[str, Any]]:
        return "multilabel", {"base": base, "base_params": dict(base_params)}
