"""The task-type contract: what one kind of Label Studio project (single-label, multi-label, spans, boxes...) owns.

A *task type* knows what a region is. Everything else (the queue, the retrain loop, the ranking, the page, the
simulation, the savings report) is one machine for all types and asks the task type at these seams:

=========================  ==================================================================================
seam                       method / attribute
=========================  ==================================================================================
label config               :meth:`TaskType.reads` (which control tags are mine) and :meth:`TaskType.parse_config`
annotation -> target       :meth:`TaskType.target` (``None``: the annotation has no answer for my controls)
model -> Label Studio      :meth:`TaskType.prediction_result` (a ``score`` on every region)
regions -> task score      :attr:`TaskType.aggregations`, :attr:`TaskType.default_aggregation`,
                           :meth:`TaskType.task_uncertainty` (and :attr:`TaskType.no_region_rule`)
diversity strategies       :meth:`TaskType.task_embedding`
metrics                    :meth:`TaskType.metrics`
label issues               :meth:`TaskType.label_issues` (a cleanlab module), :meth:`TaskType.issue_outputs`
                           (cross-fitted outputs), :meth:`TaskType.issue_gate`, :meth:`TaskType.describe`,
                           :meth:`TaskType.review_result` (the background quality pass, ``quality/regions.py``)
balancing                  :meth:`TaskType.balancing_key` (``None`` for every task: no balancing)
simulation readers         :meth:`TaskType.target_from_cell` (CSV cells), :meth:`TaskType.target` (LS JSON export)
annotation cost            :attr:`TaskType.unit` and :meth:`TaskType.cost`
refused regions            :meth:`TaskType.rejected_regions` (recorded per annotation, the rest applied)
strategies                 :meth:`TaskType.supports` (``QueryStrategy.task_types``), checked at ``/setup``
learners                   :meth:`TaskType.default_learner`, :meth:`TaskType.accepts_learner`
=========================  ==================================================================================

Write a task type
-----------------
Subclass :class:`TaskType`, give it a unique ``name`` (``"ner"``, ``"boxes"``...), implement the abstract methods,
and register the class under the entry-point group ``labelsieve.task_types``::

    [project.entry-points."labelsieve.task_types"]
    ner = "labelsieve.tasktypes.ner:NamedEntities"

The constructor takes no arguments (a task type is stateless; per-project facts live in the config object that
:meth:`TaskType.parse_config` returns). Discovery (:func:`labelsieve.tasktypes.task_type_for`) parses the label
config once, asks every registered type which control tags it :meth:`reads`, and serves the config when exactly
one type claims every control tag; a config whose controls are claimed by several types, or that has controls no
type claims, is refused at ``/setup`` with a 400 naming the tags.

Model outputs
~~~~~~~~~~~~~
The loop hands the task type what the learner gave for a batch of tasks (``outputs``): for classification types a
``(n, n_labels)`` float array (``predict_proba``), for region types whatever the learner's ``predict_regions``
returns (one list of regions per task, each region with its own score). :meth:`task_uncertainty` turns those into
one float per task, higher = more uncertain; it must say (in :attr:`no_region_rule`) what a task with no predicted
region gets, and never return NaN for it.

Where the host calls a task type today
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
- ``/setup`` (``service/loop.py`` ``setup_project``, ``service/project_settings.py``): discovery, then
  :meth:`default_learner` for ``learner="auto"``, :meth:`accepts_learner`, :meth:`supports` and
  :attr:`supports_balancing`; any refusal is a 400 naming the strategy / learner and the type.
- A retrain (``service/loop.py`` ``_retrain``/``_fit``): for every type but ``single_label`` the labelled tasks are
  those whose :meth:`target` is not ``None`` and the learner is fitted on those targets (``learner.fit(inputs,
  targets)``). The config object :meth:`parse_config` returns must expose ``from_name``, ``to_name``, ``data_key``,
  ``kind`` (``"text"``/``"image"``) and ``labels``: the input loader and the annotation store read them.
- Ranking (``service/ranking.py`` ``build_context``): ``learner.infer(pool)`` gives ``(outputs, embeddings)``;
  :meth:`task_uncertainty` of the outputs becomes ``ctx.task_uncertainty``.
- Predictions (``service/predict.py``, ``labelstudio/publisher.py``): :meth:`prediction_result` with the
  project's pre-annotation gate. Classification types decode probabilities with ``decode``; the stored ranking
  (``storage/rankings.py``) keeps class probabilities (per-label for multi-label). A region type (spans, boxes)
  adds its own stored regions at these two seams.

Strategies
~~~~~~~~~~
Strategies keep one contract (``score``/``select`` over a ``PoolContext``). They reach the task type through the
context: ``ctx.task_type`` (the name), ``ctx.task_uncertainty`` (this type's default aggregation per pool task) and
``ctx.embeddings`` (:meth:`task_embedding`). A strategy declares the types it serves in the class attribute
``task_types`` (``("*",)`` for any type: e.g. random, or diversity on embeddings only); an undeclared plugin is
taken to serve ``single_label`` only, the one type that existed before the contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from xml.etree.ElementTree import Element

import numpy as np

#: ``QueryStrategy.task_types`` entry meaning "every task type" (the strategy reads only embeddings / the rng)
ANY_TASK_TYPE = "*"
#: label-issue gate levels, the single-label gate's (labelsieve.quality.issues): at least this many examples of the
#: rarest class, and a model at least this share of the way from the trivial baseline to perfect
GATE_MIN_PER_CLASS = 20
GATE_MIN_SKILL = 0.5
#: the task types a strategy serves when it does not say (strategies written before task types existed)
DEFAULT_STRATEGY_TASK_TYPES: tuple[str, ...] = ("single_label",)


class UnsupportedTaskType(ValueError):
    """A strategy, learner or setting cannot serve this task type; the message names both."""


@dataclass
class TaskLabelIssues:
    """Label-issue candidates of the labelled tasks, aligned with the targets given.

    ``issue_score``: higher = more likely wrong; ``flagged``: cleanlab's verdict; ``suggested``: the target the
    out-of-fold model proposes instead (in the task type's target shape); ``suggested_confidence``: how sure."""

    issue_score: np.ndarray
    flagged: np.ndarray
    suggested: list[Any]
    suggested_confidence: np.ndarray
    #: per task, what a reviewer should look at (which label, token span or box, and what the model says); ""
    #: where cleanlab has nothing to say. Empty list: the finder gives no reasons.
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IssueGate:
    """Whether the out-of-fold model is good enough for its disagreements to be shown as label issues.

    ``measure`` (e.g. out-of-fold token accuracy) must reach ``level``, and the rarest class must have at least
    ``min_count`` examples (``smallest``); ``reason`` says why not in a sentence a user reads on the page."""

    shown: bool
    reason: str
    measure: str
    value: float
    level: float
    smallest: int
    min_count: int

    def to_dict(self) -> dict[str, Any]:
        return {"shown": self.shown, "reason": self.reason, "measure": self.measure, "value": round(self.value, 4),
                "level": round(self.level, 4), "smallest": self.smallest, "min_count": self.min_count}


def judge_gate(*, measure: str, value: float, level: float, smallest: int, min_count: int, unit: str) -> IssueGate:
    """The gate's verdict and its reason (one rule for every task type: enough of the rarest class, and a model
    at least ``level`` good by ``measure``)."""
    reasons = []
    if smallest < min_count:
        reasons.append(f"the rarest class has {smallest} {unit} (at least {min_count} needed)")
    if value < level:
        reasons.append(f"{measure} {value:.2f} is under {level:.2f}: the model's own mistakes would outnumber the "
                       "label errors")
    return IssueGate(shown=not reasons, reason="; ".join(reasons) or "model good enough to judge labels",
                     measure=measure, value=float(value), level=float(level), smallest=int(smallest),
                     min_count=int(min_count))


@dataclass(frozen=True)
class RejectedRegion:
    """One region of an annotation's ``result`` the task type refuses: what it was, in words, and why."""

    region: str  # e.g. "PER 3..9" or "box 2 (cat)"
    reason: str


class TaskType(ABC):
    """One kind of Label Studio project. See the module docstring for what to implement and how it is found."""

    #: unique registry name (also stored with the project and shown in refusals)
    name: ClassVar[str]
    #: what a person annotates, for cost: ``"tasks"``, ``"labels"``, ``"tokens"``, ``"boxes"``
    unit: ClassVar[str] = "tasks"
    #: per-region -> per-task uncertainty aggregations offered: name -> one line of what it does
    aggregations: ClassVar[dict[str, str]] = {}
    #: the aggregation used when the project does not choose one (say why in the class docstring)
    default_aggregation: ClassVar[str] = ""
    #: the strategy a project of this type gets when it names none (None: the service's ``default_strategy``)
    default_strategy: ClassVar[str | None] = None
    #: what :meth:`task_uncertainty` gives a task with no predicted region (one sentence, shown in docs)
    no_region_rule: ClassVar[str] = "not applicable: every task has exactly one region"
    #: control tags (lower case) this type does NOT serve but knows who would: tag -> hint shown in the refusal
    refusal_hints: ClassVar[dict[str, str]] = {}

    # ----------------------------------------------------------------------------- label config
    @abstractmethod
    def reads(self, root: Element) -> list[Element]:
        """The control tags of the parsed config ``root`` this type would serve (empty: not mine)."""

    @abstractmethod
    def parse_config(self, xml: str) -> Any:
        """This type's view of the config (names, data key, labels), or raise
        :class:`labelsieve.labelconfig.UnsupportedLabelConfig` saying what is wrong."""

    # ------------------------------------------------------------------------ targets and results
    @abstractmethod
    def target(self, result: list[dict[str, Any]] | None, config: Any) -> Any | None:
        """The training target of one annotation's ``result`` (``None`` when it answers none of my controls)."""

    @abstractmethod
    def prediction_result(self, config: Any, output: Any, *, preannotate: bool) -> list[dict[str, Any]]:
        """Label Studio ``result`` regions for one task's model ``output``; every region carries ``score``.

        ``preannotate`` is the project's pre-annotation gate for this task: when False return ``[]`` (the
        prediction's top-level score alone ranks the task)."""

    def rejected_regions(self, result: list[dict[str, Any]] | None, config: Any,
                         data: dict[str, Any] | None = None) -> list[RejectedRegion]:
        """The regions of one annotation's ``result`` this type refuses, each with its reason; ``data`` is the
        task's data when known (spans check their offsets against its text). The webhook applier stores the
        annotation and records these; training leaves them out. Default: none (one answer per task)."""
        return []

    # ------------------------------------------------------------------------------- uncertainty
    @abstractmethod
    def task_uncertainty(self, outputs: Any, aggregation: str | None = None) -> np.ndarray:
        """One finite float per task, higher = more uncertain, aggregating the task's regions with
        ``aggregation`` (``None``: :attr:`default_aggregation`). Unknown names raise ``ValueError``."""

    def task_embedding(self, learner: Any, inputs: Sequence[Any]) -> np.ndarray:
        """``(n, d)`` float32 embedding per task for the diversity strategies (default: ``learner.embed``)."""
        return np.asarray(learner.embed(inputs), dtype=np.float32)

    # ---------------------------------------------------------------------- quality and metrics
    @abstractmethod
    def metrics(self, y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[str]) -> dict[str, float]:
        """This type's quality numbers on held-out targets (names are stable keys for reports)."""

    @abstractmethod
    def label_issues(self, targets: Sequence[Any], outputs: Any, labels: Sequence[str]) -> TaskLabelIssues:
        """cleanlab's verdict on the labelled ``targets`` given out-of-fold model ``outputs``."""

    def issue_outputs(self, learner: Any, inputs: Sequence[Any], labels: Sequence[str]) -> Any:
        """What :meth:`label_issues` reads, from a learner fitted on the other folds: its ``predict_regions``
        when it has one (region types), else ``predict_proba`` with one column per ``labels`` entry (a label the
        fold's learner never saw gets probability 0)."""
        regions = getattr(learner, "predict_regions", None)
        if callable(regions):
            return regions(inputs)
        probas = np.asarray(learner.predict_proba(inputs), dtype=np.float64)
        out = np.zeros((len(inputs), len(labels)))
        index = {label: j for j, label in enumerate(labels)}
        for col, label in enumerate(learner.classes_):
            if label in index:
                out[:, index[label]] = probas[:, col]
        return out

    def issue_gate(self, targets: Sequence[Any], outputs: Any, labels: Sequence[str]) -> IssueGate:
        """Whether label-issue candidates of this type may be shown (see :class:`IssueGate`). The default shows
        none: a type that defines no gate has not said when its model's disagreement means something."""
        return IssueGate(shown=False, reason=f"task type {self.name!r} defines no label-issue gate",
                         measure="none", value=0.0, level=1.0, smallest=0, min_count=0)

    def describe(self, target: Any) -> str:
        """One line a reviewer reads for a target or a suggestion (the page's "given" and "suggested")."""
        return str(target)

    def review_result(self, config: Any, output: Any) -> list[dict[str, Any]]:
        """The Label Studio result of a label-issue review prediction: the out-of-fold ``output`` as regions
        (their scores are removed before the push)."""
        return self.prediction_result(config, output, preannotate=True)

    #: whether the balancing methods (resampling, reweighting, augmentation) may run; ``/setup`` refuses
    #: ``balancing`` for a type that says False
    supports_balancing: ClassVar[bool] = False

    def balancing_key(self, target: Any) -> str | None:
        """The class a target counts as for balancing (resampling, reweighting); ``None``: no balancing."""
        return None

    def class_names(self, target: Any) -> tuple[str, ...]:
        """The labels a target counts for in the class gauges (``/metrics``, status): a string target is one class,
        a collection (label sets, spans, boxes) its items' labels, any other value (a rating, a number) its text."""
        if isinstance(target, str):
            return (target,)
        if isinstance(target, Iterable):
            return tuple(str(getattr(item, "label", item)) for item in target)
        return (str(target),)

    # ------------------------------------------------------------------------------- simulation
    @abstractmethod
    def target_from_cell(self, cell: str, config: Any) -> Any | None:
        """The target a CSV label cell holds (``None``: empty cell, the row is unlabelled)."""

    def cost(self, target: Any) -> int:
        """Annotation units (:attr:`unit`) a person spends on a task with this target (default 1 task)."""
        return 1

    # ----------------------------------------------------------------------- learners, strategies
    @abstractmethod
    def default_learner(self, config: Any, base: str, base_params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(learner name, params) this type trains when the project says ``learner="auto"``; ``base`` and
        ``base_params`` are the single-label learner the input kind would get (``text``, ``auto_image``...)."""

    def accepts_learner(self, learner: Any) -> bool:
        """Whether a learner instance can learn this type (its ``task_types`` class attribute names it)."""
        return self.name in getattr(learner, "task_types", DEFAULT_STRATEGY_TASK_TYPES)

    def supports(self, strategy: Any) -> bool:
        """Whether ``strategy`` (a ``QueryStrategy``) serves this type; wrappers answer for their members."""
        declared = strategy_task_types(strategy)
        return ANY_TASK_TYPE in declared or self.name in declared

    def check_strategy(self, strategy: Any, strategy_name: str) -> None:
        """Raise :class:`UnsupportedTaskType` naming the strategy and this type when it cannot serve it."""
        if not self.supports(strategy):
            served = list(strategy_task_types(strategy))
            raise UnsupportedTaskType(
                f"strategy {strategy_name!r} does not support task type {self.name!r} (it serves: "
                f"{', '.join(served) or 'none'}); choose a strategy that does (labelsieve strategies lists them)")


def strategy_task_types(strategy: Any) -> tuple[str, ...]:
    """The task types a strategy (instance or class) serves: its ``members_task_types()`` for wrappers, else its
    ``task_types`` attribute, else :data:`DEFAULT_STRATEGY_TASK_TYPES`."""
    members = getattr(strategy, "members_task_types", None)
    if callable(members):
        return tuple(members())
    return tuple(getattr(strategy, "task_types", DEFAULT_STRATEGY_TASK_TYPES))
