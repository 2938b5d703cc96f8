"""Rank the unlabeled pool with the project's strategy into the version's :class:`Ranking`.

Label Studio serves the lowest prediction ``score`` first, so rank ``r`` (0 = label first) of a
pool of ``n`` becomes ``score = (r + 1) / (n + 1)``: strictly increasing, inside (0, 1).
The strategy's own utility (higher = sooner) is kept beside it for reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelsieve.registry import Registries
from labelsieve.service.audit import place_audit
from labelsieve.service.pool_inputs import PoolInputs
from labelsieve.service.project_settings import ProjectSettings
from labelsieve.storage.models import QueryRound
from labelsieve.storage.rankings import Ranking, build_ranking
from labelsieve.strategies.base import PoolContext, QueryStrategy, full_ranking
from labelsieve.tasktypes import get_task_type
from labelsieve.tasktypes.base import TaskType
from labelsieve.tasktypes.multilabel_math import indicator, set_confidence

log = logging.getLogger(__name__)
FALLBACK_STRATEGY = "least_confidence"
#: the fallback of a task type least confidence does not serve
FALLBACK_ANY_TYPE = "random"


def rank_scores(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.float64) + 1.0) / (n + 1.0)


def build_context(
    *, learner: Any, pool_inputs: Sequence[Any], labeled_inputs: Sequence[Any], labeled_y: Sequence[str],
    pool_ids: np.ndarray, seed: int, probas: np.ndarray | None = None, embeddings: np.ndarray | None = None,
    prequential_accuracy: float | None = None, task_type: TaskType | None = None,
    task_uncertainty: np.ndarray | None = None, pool_regions: Sequence[Any] | None = None,
    pool_dropout: Any = None,
) -> PoolContext:
    """The strategies' context. Single-label ``labeled_y`` are class names; other task types' are their targets
    (multi-label: label sets, given to strategies as ``labeled_targets``)."""
    task_type = task_type if task_type is not None else get_task_type("single_label")
    name = task_type.name
    if name == "single_label":
        classes = tuple(learner.classes_) if learner is not None else tuple(sorted(set(labeled_y)))
        index = {label: i for i, label in enumerate(classes)}
        return PoolContext(
            pool=pool_inputs, learner=learner, rng=np.random.default_rng(seed), labeled=labeled_inputs,
            labeled_y=np.array([index.get(label, -1) for label in labeled_y], dtype=np.int64),
            classes=classes, ids=pool_ids, pool_probas=probas, pool_embeddings=embeddings,
            prequential_accuracy=prequential_accuracy,
            task_uncertainty=None if probas is None else task_type.task_uncertainty(probas),
        )
    classes = tuple(learner.classes_) if learner is not None else ()
    thresholds = getattr(learner, "thresholds_", None)
    uncertainty = task_uncertainty  # region task types: computed from the learner's predict_regions
    if uncertainty is None and probas is not None:
        uncertainty = task_type.task_uncertainty((probas, thresholds))
    return PoolContext(
        pool=pool_inputs, learner=learner, rng=np.random.default_rng(seed), labeled=labeled_inputs,
        labeled_y=np.full(len(labeled_y), -1, dtype=np.int64), classes=classes, ids=pool_ids, pool_probas=probas,
        pool_embeddings=embeddings, prequential_accuracy=prequential_accuracy, task_type=name,
        thresholds=thresholds, task_uncertainty=uncertainty, pool_regions=pool_regions, pool_dropout=pool_dropout,
        labeled_targets=indicator(list(labeled_y), classes) if name == "multi_label" else None,
    )


def region_outputs(learner: Any, task_type: TaskType, inputs: Sequence[Any], dropout: dict[str, Any] | None = None,
                   ) -> tuple[list[Any], np.ndarray | None, Any]:
    """A region learner's outputs, the task embeddings of ``inputs`` and the MC-dropout scores ``dropout`` asks
    for (None when not asked or the learner has no ``infer_with_dropout``): in one pass when the learner offers
    ``infer_regions`` (the detector: boxes and its backbone's pooled features), else ``predict_regions`` and the
    task type's :meth:`~labelsieve.tasktypes.base.TaskType.task_embedding`."""
    if not len(inputs):
        return [], None, None
    fused = getattr(learner, "infer_with_dropout", None)
    if dropout is not None and callable(fused):
        outputs, embeddings, scores = fused(inputs, **dropout)
        return list(outputs), np.asarray(embeddings, dtype=np.float32), scores
    infer_regions = getattr(learner, "infer_regions", None)
    if callable(infer_regions):
        outputs, embeddings = infer_regions(inputs)
        return list(outputs), np.asarray(embeddings, dtype=np.float32), None
    return list(learner.predict_regions(inputs)), task_type.task_embedding(learner, inputs), None


def dropout_request(strategy: QueryStrategy | None, seed: int) -> dict[str, Any] | None:
    """What the strategy asks the ranking pass to compute beside the boxes (``mc_dropout_boxes``: its dropout
    passes), or None. A strategy whose parameters are invalid asks for nothing: its own ``score`` fails and the
    round falls back as for any broken strategy."""
    ask = getattr(strategy, "dropout_request", None)
    if not callable(ask):
        return None
    try:
        return dict(ask(seed))
    except ValueError:
        return None


def rank_pool(
    *, project_id: int, version: str, learner: Any, pool: PoolInputs, labeled_inputs: Sequence[Any],
    labeled_y: Sequence[str], settings: ProjectSettings, registries: Registries, seed: int,
    strategy: QueryStrategy | None = None, prequential_accuracy: float | None = None,
    task_type: TaskType | None = None, config: Any = None,
) -> tuple[QueryRound, Ranking]:
    """Score every loaded pool task; return the query round and the version's full ranking.

    ``strategy`` is the project's strategy as resolved at ``/setup`` (built from ``settings`` when not given)."""
    pool_ids = pool.ids
    regions: list[list[dict]] | None = None
    task_uncertainty = confidence = None
    outputs: list[Any] | None = None
    pool_dropout = None
    if hasattr(learner, "predict_regions") and task_type is not None:  # a region task type (spans, boxes)
        if strategy is None:
            try:
                strategy = registries.strategies.create(settings.strategy, settings.strategy_params)
            except Exception:  # noqa: BLE001 - reported and replaced by the fallback below
                strategy = None
        outputs, embeddings, pool_dropout = region_outputs(learner, task_type, pool.inputs,
                                                           dropout_request(strategy, seed))
        task_uncertainty = task_type.task_uncertainty(outputs)
        regions = [task_type.prediction_result(config, output, preannotate=True) for output in outputs]
        confidence = np.array([float(output.confidence) for output in outputs], dtype=np.float64)
        probas = np.zeros((len(outputs), 1))
    elif len(pool.inputs):
        probas, embeddings = learner.infer(pool.inputs)
    else:
        probas, embeddings = np.zeros((0, len(learner.classes_))), None
    started = time.perf_counter()
    strategy_name, params = settings.strategy, settings.strategy_params
    try:
        if strategy is None:
            strategy = registries.strategies.create(strategy_name, params)
        ctx = build_context(learner=learner, pool_inputs=pool.inputs, labeled_inputs=labeled_inputs,
                            labeled_y=labeled_y, pool_ids=pool_ids, seed=seed, probas=probas,
                            embeddings=embeddings, prequential_accuracy=prequential_accuracy, task_type=task_type,
                            task_uncertainty=task_uncertainty, pool_regions=outputs, pool_dropout=pool_dropout)
        order, utility = full_ranking(strategy, ctx, settings.batch_size)
    except Exception as exc:  # noqa: BLE001 - a broken strategy must not block the new model
        log.exception("strategy %r failed on project %s; ranking by %s", strategy_name, project_id,
                      FALLBACK_STRATEGY)
        fallback = FALLBACK_STRATEGY
        if task_type is not None and not task_type.supports(registries.strategies.create(fallback, {})):
            fallback = FALLBACK_ANY_TYPE
        strategy_name, params = f"{fallback} (fallback: {type(exc).__name__})", {}
        strategy = registries.strategies.create(fallback, {})
        ctx = build_context(learner=learner, pool_inputs=pool.inputs, labeled_inputs=labeled_inputs,
                            labeled_y=labeled_y, pool_ids=pool_ids, seed=seed, probas=probas,
                            embeddings=embeddings, task_type=task_type, task_uncertainty=task_uncertainty,
                            pool_regions=outputs)
        order, utility = full_ranking(strategy, ctx, settings.batch_size)
    select_seconds = time.perf_counter() - started
    order, audit = place_audit(order, share=settings.audit_share, batch_size=settings.batch_size,
                               rng=np.random.default_rng([seed, 1]))

    n = len(order)
    thresholds = getattr(learner, "thresholds_", None) if ctx.task_type == "multi_label" else None
    ranking = build_ranking(version=version, classes=learner.classes_, pool_ids=pool_ids, order=order,
                            scores=rank_scores(n), probas=probas, utility=utility, thresholds=thresholds,
                            confidence=confidence if thresholds is None else set_confidence(probas, thresholds),
                            regions=regions)
    round_row = QueryRound(
        project_id=project_id, model_version=version, strategy=strategy_name, strategy_params=dict(params),
        seed=seed, n_pool=n, n_labeled=len(labeled_y),
        batch=[int(t) for t in ranking.task_ids[: settings.batch_size]], select_seconds=select_seconds,
        audit=[int(pool_ids[i]) for i in audit],
    )
    return round_row, ranking
