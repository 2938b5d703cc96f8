"""Named-entity spans: ``<Labels>`` on ``<Text>``, character offsets, one region per entity.

The learner (``crf``, :class:`labelsieve.learners.spans.CrfSpanLearner`) tags tokens with BIO tags and gives the
Viterbi path, its probability and per-token marginals; this type turns them into Label Studio ``labels`` regions
whose ``value.text`` is exactly ``text[start:end]`` and whose ``score`` is the entity's confidence, and into one
uncertainty per task. Cost is counted in tokens: a person reads every token of a sentence.

Default aggregation and the no-entity rule come from ``benchmarks/ner.py`` (``benchmarks/results/ner.md``).
``HyperText`` spans (XPath offsets) are refused with a message.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.etree.ElementTree import Element

import numpy as np
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException
from seqeval.metrics import f1_score, precision_score, recall_score

from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.spans.bio import RejectedSpan
from labelsieve.spans.results import prediction_results, result_spans
from labelsieve.spans.targets import SpanOutput, SpanTarget
from labelsieve.spans.uncertainty import pool_uncertainty
from labelsieve.tasktypes.base import (
    GATE_MIN_PER_CLASS,
    GATE_MIN_SKILL,
    IssueGate,
    RejectedRegion,
    TaskLabelIssues,
    TaskType,
    judge_gate,
)
from labelsieve.tasktypes.region_config import RegionConfig
from labelsieve.tasktypes.token_issues import find_token_issues, token_reasons

SPAN_OBJECTS = {"text", "hypertext"}
SUPPORTED_SPANS = ('the ner task type serves one <Labels> control on a <Text> tag with a $variable value, e.g. '
                   '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="LOC"/></Labels>'
                   '<Text name="text" value="$text"/></View>')
#: aggregation -> (sequence aggregation, no-entity rule) of labelsieve.spans.uncertainty
_AGGREGATIONS: dict[str, tuple[str, str]] = {
    "mnlp": ("mnlp", "outside_uncertainty"),
    "least_confidence": ("least_confidence", "outside_uncertainty"),
    "total_entropy": ("total_entropy", "outside_uncertainty"),
    "mean_entropy": ("mean_entropy", "outside_uncertainty"),
    "entity_min": ("entity_min", "outside_uncertainty"),
    "entity_mean": ("entity_mean", "outside_uncertainty"),
    "ls_examples": ("entity_min", "last"),
}


@dataclass(frozen=True)
class SpanConfig(RegionConfig):
    """What the ner type needs from the label config."""

    kind: str = "text"

    @property
    def result_type(self) -> str:
        return "labels"

    def region_labels(self, result: list[dict[str, Any]]) -> set[str]:
        spans, _ = result_spans(result, self.from_name)
        return {span.label for span, _ in spans}


def _root(xml: str) -> Element:
    if not isinstance(xml, str) or not xml.strip():
        raise UnsupportedLabelConfig("the label config is empty. " + SUPPORTED_SPANS)
    try:
        root: Element = SafeET.fromstring(xml)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise UnsupportedLabelConfig(f"the label config is not well-formed XML ({exc})") from exc
    return root


def _objects(root: Element) -> dict[str, Element]:
    return {el.get("name") or "": el for el in root.iter() if isinstance(el.tag, str) and el.get("name")}


def _labels_controls(root: Element) -> list[Element]:
    objects = _objects(root)
    found = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag.lower() != "labels" or not el.get("toName"):
            continue
        target = objects.get(el.get("toName") or "")
        if target is not None and target.tag.lower() in SPAN_OBJECTS:
            found.append(el)
    return found


def _describe(span: Any) -> str:
    where = "no offsets" if span.start < 0 else f"{span.start}..{span.end}"
    return f"{span.label or 'unlabelled'} span {where}"


class NamedEntities(TaskType):
    """Spans on text. Aggregations: see :mod:`labelsieve.spans.uncertainty`; ``ls_examples`` is Label Studio's
    flair/gliner heuristic (lowest entity confidence, a sentence with no entity last), kept for comparison."""

    name: ClassVar[str] = "ner"
    unit: ClassVar[str] = "tokens"
    aggregations: ClassVar[dict[str, str]] = {
        "mnlp": "-(1/T) log P(best path): least confidence normalised by sentence length (Shen et al. 2017)",
        "least_confidence": "1 - P(best path); favours long sentences",
        "total_entropy": "sum over tokens of the marginal entropy",
        "mean_entropy": "mean over tokens of the marginal entropy",
        "entity_min": "1 - the lowest predicted entity's confidence (no entity: max over tokens of 1 - P(O))",
        "entity_mean": "1 - the mean predicted entity confidence (no entity: max over tokens of 1 - P(O))",
        "ls_examples": "Label Studio's flair/gliner score: 1 - lowest entity confidence, no entity served last",
    }
    default_aggregation: ClassVar[str] = "mnlp"
    default_strategy: ClassVar[str | None] = "task_uncertainty"  # ranks by the default aggregation
    no_region_rule: ClassVar[str] = (
        "mnlp, least_confidence and the entropies score every token, 'O' included, so a sentence with no predicted "
        "entity ranks by how unsure its tokens are; entity_min/entity_mean give it max over tokens of 1 - P(O), "
        "the chance the model half-sees an entity there")

    def reads(self, root: Element) -> list[Element]:
        return _labels_controls(root)

    def parse_config(self, xml: str) -> SpanConfig:
        root = _root(xml)
        controls = _labels_controls(root)
        if len(controls) != 1:
            raise UnsupportedLabelConfig(f"found {len(controls)} <Labels> controls on text. " + SUPPORTED_SPANS)
        control = controls[0]
        target = _objects(root)[control.get("toName") or ""]
        if target.tag.lower() == "hypertext":
            raise UnsupportedLabelConfig(
                f"<Labels name={control.get('name')!r}> labels a <HyperText> tag: HyperText spans are addressed by "
                "XPath offsets, which labelsieve does not learn; use <Text> for plain-text named entities. "
                + SUPPORTED_SPANS)
        value = (target.get("value") or "").strip()
        if not value.startswith("$") or len(value) < 2:
            raise UnsupportedLabelConfig(f"<Text name={target.get('name')!r}> needs value=\"$variable\". "
                                         + SUPPORTED_SPANS)
        labels: list[str] = []
        for child in control.iter():
            if isinstance(child.tag, str) and child.tag.lower() == "label":
                label = child.get("value") or child.get("alias")
                if not label or not label.strip():
                    raise UnsupportedLabelConfig(f"a <Label> inside <Labels name={control.get('name')!r}> has no "
                                                 "value attribute")
                if label not in labels:
                    labels.append(label)
        if not labels:
            raise UnsupportedLabelConfig(f"<Labels name={control.get('name')!r}> has no <Label>. " + SUPPORTED_SPANS)
        return SpanConfig(from_name=control.get("name") or "", to_name=target.get("name") or "",
                          data_key=value[1:], labels=tuple(labels))

    def target(self, result: list[dict[str, Any]] | None, config: SpanConfig,
               data: dict[str, Any] | None = None) -> SpanTarget | None:
        """The annotation's spans; ``data`` (the task's data) adds the text so offsets can be checked and tokens
        counted. An annotation with no region for our control is an answer too: "no entity in this sentence"."""
        if result is None:
            return None
        spans, rejected = result_spans(result, config.from_name)
        known = []
        for span, quoted in spans:
            if span.label in config.labels:
                known.append((span, quoted))
            else:
                rejected.append(RejectedSpan(span, f"label {span.label!r} is not a <Label> of the config"))
        text = data.get(config.data_key) if isinstance(data, dict) else None
        return SpanTarget(tuple(known), text if isinstance(text, str) else None, tuple(rejected))

    def rejected_spans(self, target: SpanTarget, text: str) -> list[RejectedSpan]:
        """Every span of ``target`` refused for ``text``, with its reason (for the bad-event record)."""
        return list(target.rejected) + target.tags(text)[1]

    def rejected_regions(self, result: list[dict[str, Any]] | None, config: SpanConfig,
                         data: dict[str, Any] | None = None) -> list[RejectedRegion]:
        """Spans with unknown labels or no offsets; with the task's text also offsets that do not reproduce it,
        empty and overlapping spans."""
        target = self.target(result or [], config, data)
        assert target is not None
        refused = self.rejected_spans(target, target.text) if target.text is not None else list(target.rejected)
        return [RejectedRegion(_describe(r.span), r.reason) for r in refused]

    def prediction_result(self, config: SpanConfig, output: SpanOutput, *, preannotate: bool) -> list[dict[str, Any]]:
        if not preannotate:
            return []
        return prediction_results(output.text, output.tokens, output.prediction, output.classes,
                                  from_name=config.from_name, to_name=config.to_name)

    def task_uncertainty(self, outputs: Sequence[SpanOutput], aggregation: str | None = None) -> np.ndarray:
        name = aggregation or self.default_aggregation
        if name not in _AGGREGATIONS:
            raise ValueError(f"unknown aggregation {name!r} for task type 'ner'; choose from {sorted(_AGGREGATIONS)}")
        if not outputs:
            return np.zeros(0)
        sequence, rule = _AGGREGATIONS[name]
        return pool_uncertainty([o.prediction for o in outputs], outputs[0].classes, sequence, rule)

    @staticmethod
    def _tags(item: SpanTarget | SpanOutput) -> list[str]:
        if isinstance(item, SpanOutput):
            return list(item.prediction.tags)
        return item.tags()[0]

    def metrics(self, y_true: Sequence[SpanTarget], y_pred: Sequence[SpanTarget | SpanOutput],
                labels: Sequence[str]) -> dict[str, float]:
        """Entity-level exact match (seqeval, default mode), micro-averaged; targets need their text."""
        true = [self._tags(t) for t in y_true]
        pred = [self._tags(p) for p in y_pred]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {"entity_precision": float(precision_score(true, pred, zero_division=0)),
                    "entity_recall": float(recall_score(true, pred, zero_division=0)),
                    "entity_f1": float(f1_score(true, pred, zero_division=0))}

    def label_issues(self, targets: Sequence[SpanTarget], outputs: Sequence[SpanOutput],
                     labels: Sequence[str]) -> TaskLabelIssues:
        tags = [t.tags(o.text, o.tokens)[0] for t, o in zip(targets, outputs, strict=True)]
        classes = sorted({*(c for o in outputs for c in o.classes), *(g for seq in tags for g in seq)},
                         key=lambda c: (c != "O", c))
        marginals = []
        for output in outputs:
            rows = np.zeros((len(output.tokens), len(classes)))
            for k, label in enumerate(output.classes):
                rows[:, classes.index(label)] = output.prediction.marginals[:, k]
            marginals.append(rows)
        found = find_token_issues(tags, marginals, classes)
        flagged = np.zeros(len(targets), dtype=bool)
        for i, _ in found.flagged_tokens:
            flagged[i] = True
        return TaskLabelIssues(
            issue_score=1.0 - found.sentence_quality,
            flagged=flagged,
            suggested=[o.as_target() for o in outputs],
            suggested_confidence=np.array([o.prediction.path_probability for o in outputs], dtype=np.float64),
            reasons=token_reasons(found, tags, [o.text for o in outputs], [o.tokens for o in outputs]),
        )

    def issue_gate(self, targets: Sequence[SpanTarget], outputs: Sequence[SpanOutput],
                   labels: Sequence[str]) -> IssueGate:
        """The single-label gate over tokens: the rarest entity type annotated at least 20 times, and out-of-fold
        token accuracy (the path's tags against the annotated BIO tags) at least halfway from the majority-tag
        share (usually "O": a model that finds no entity) to 1."""
        given: list[str] = []
        predicted: list[str] = []
        for target, output in zip(targets, outputs, strict=True):
            given.extend(target.tags(output.text, output.tokens)[0])
            predicted.extend(output.prediction.tags)
        entities = [tag[2:] for tag in given if tag.startswith("B-")]
        majority = max(given.count(tag) for tag in set(given)) / len(given) if given else 1.0
        accuracy = float(np.mean([g == p for g, p in zip(given, predicted, strict=True)])) if given else 0.0
        return judge_gate(measure="out-of-fold token accuracy", value=accuracy,
                          level=majority + GATE_MIN_SKILL * (1 - majority),
                          smallest=min((entities.count(label) for label in set(entities)), default=0),
                          min_count=GATE_MIN_PER_CLASS, unit="entities")

    def describe(self, target: SpanTarget) -> str:
        parts = [f"{span.label} {quoted!r} [{span.start}:{span.end}]" if quoted is not None
                 else f"{span.label} [{span.start}:{span.end}]" for span, quoted in target.spans]
        return "; ".join(parts) or "no entity"

    def target_from_cell(self, cell: str, config: SpanConfig) -> SpanTarget | None:
        raise ValueError("named-entity spans cannot come from a CSV cell: simulate from a CoNLL-style BIO file or "
                         "a Label Studio JSON export")

    def cost(self, target: SpanTarget) -> int:
        """Tokens of the task's text (at least 1)."""
        return max(1, target.n_tokens())

    def default_learner(self, config: SpanConfig, base: str, base_params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return "crf", {}
