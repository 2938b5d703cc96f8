"""One training round: the labelled and pool inputs loaded, balanced and a new learner fitted (:func:`fit_round`);
then the model saved, the pool ranked, the version, ranking and round stored, and serving switched to it
(:func:`store_round`). The loop (``service/loop.py``) decides when a round runs and holds what outlives it (the
served models, the input cache, the locks).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from labelsieve.balancing.base import SyntheticBatch, balancing_summary
from labelsieve.balancing.prepare import TrainingSet, prepare_training_set
from labelsieve.balancing.stages import routed_params
from labelsieve.input_cache import InputCache
from labelsieve.inputs import InputLoader
from labelsieve.metrics import Metrics
from labelsieve.registry import Registries
from labelsieve.service import fault_hooks
from labelsieve.service.class_gauges import observe_classes
from labelsieve.service.image_features import ImageFeatures
from labelsieve.service.pool_inputs import PoolInputs, load_pool, load_tasks, pool_for_fit
from labelsieve.service.project_settings import ProjectSettings, ResolvedSettings
from labelsieve.service.ranking import rank_pool
from labelsieve.service.stopping import stop_set_record
from labelsieve.service.text_features import TextFeatures
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion, Project, utcnow
from labelsieve.storage.rankings import save_ranking
from labelsieve.storage.synthetic import save_synthetic
from labelsieve.tasktypes import ServedConfig

log = logging.getLogger(__name__)


def version_name(number: int) -> str:
    return f"labelsieve-v{number}-{utcnow().strftime('%Y%m%d%H%M%S')}"


@dataclass
class Fitted:
    """A new model fitted on the labelled tasks that loaded, and what it was fitted on."""

    learner: Any
    loader: InputLoader
    loaded: PoolInputs
    pool: PoolInputs
    y: list[str]
    counts: Counter[str]
    balanced: TrainingSet | None
    seconds: float
    prequential_accuracy: float | None = None  # how good the models have become (service/signals.py)


#: at most this many tasks whose media failed to load are named in a version's metrics (``input_errors``)
MAX_INPUT_ERRORS = 50


def _learner_notes(learner: Any, fitted: Fitted) -> dict[str, Any]:
    """What the project status shows about a version: the learner's own choice and reason (auto_image's
    ``reason_``) and the tasks skipped because their media did not load, with the error of each."""
    notes: dict[str, Any] = {}
    reason = getattr(learner, "reason_", None)
    if reason:
        notes["learner_choice"] = str(reason)
    errors = {**fitted.loaded.errors, **fitted.pool.errors}
    if errors:
        notes["input_errors"] = {"count": len(errors),
                                 "tasks": {str(k): v for k, v in list(errors.items())[:MAX_INPUT_ERRORS]}}
    return notes


def fit_round(*, engine: Engine, registries: Registries, metrics: Metrics, project: Project, ps: ProjectSettings,
              examples: Sequence[tuple[Any, Any]], served: ServedConfig, loader_for: Callable[[str], InputLoader],
              cache: InputCache, text_features: TextFeatures | None,
              image_features: ImageFeatures | None) -> Fitted:
    """Load the labelled and pool inputs (through the input cache), balance the labelled ones as configured
    and fit a new learner (raises TrainingDataError)."""
    learner = registries.learners.create(ps.learner, ps.learner_params)
    loader = loader_for(learner.input_kind)
    with session_scope(engine) as session:
        loaded = load_tasks(session=session, tasks=[t for t, _ in examples], loader=loader, cache=cache)
        pool = load_pool(session=session, project_id=project.id, loader=loader, cache=cache)
    params = ps.learner_params if text_features is None else text_features.learner_params(
        project.id, ps, learner.input_kind, [*loaded.inputs, *pool.inputs])  # TF-IDF while a pool encodes
    if image_features is not None and params is ps.learner_params:  # pixels while an image pool encodes
        params = image_features.learner_params(project.id, ps, learner.input_kind, [*loaded.inputs, *pool.inputs])
    if params is not ps.learner_params:
        learner = registries.learners.create(ps.learner, params)
    if loaded.errors:
        metrics.failures.labels("media").inc(len(loaded.errors))
    if served.name == "single_label":  # the stored label is the target (unchanged behaviour)
        label_of: dict[int, Any] = {task.id: annotation.labels[0] for task, annotation in examples}
    else:  # the task type reads its target from the annotation's result
        label_of = {task.id: served.task_type.target(annotation.result, served.config)
                    for task, annotation in examples}
    y = [label_of[int(task_id)] for task_id in loaded.ids]
    counts = Counter(y) if served.task_type.supports_balancing else Counter(
        label for target in y for label in served.task_type.class_names(target))  # for the class gauges
    observe_classes(metrics, project.id, counts)
    unlabeled = pool_for_fit(pool.inputs, np.random.default_rng(
        zlib.crc32(f"{project.id}:pool:{ps.seed}:{len(y)}".encode())))
    fit_started = time.perf_counter()
    balanced = None
    if ps.balancing and len(counts) >= 2:  # one class: let the learner explain why it cannot fit
        balanced = prepare_training_set(
            loaded.inputs, y, method=ps.balancing, params=ps.balancing_params, learner_name=ps.learner,
            learner_params=params, domains=domains_of(examples, loaded.ids, ps.balancing_params),
            rng=np.random.default_rng(zlib.crc32(f"{project.id}:balancing:{ps.seed}:{len(y)}".encode())),
        )
        if balanced.learner_overrides:  # a staged learner (auto_image) takes torch overrides in its CNN stage
            learner = registries.learners.create(
                ps.learner, routed_params(type(learner), params, balanced.learner_overrides))
    fault_hooks.before_fit(project.id, len(y))  # a test hook: blocks here only when a test asks it to
    if balanced is None:
        learner.fit(loaded.inputs, y, unlabeled=unlabeled)
    else:
        learner.fit(balanced.X, balanced.y, sample_weight=balanced.sample_weight, unlabeled=unlabeled)
    return Fitted(learner, loader, loaded, pool, y, counts, balanced, time.perf_counter() - fit_started)


def domains_of(examples: Sequence[tuple[Any, Any]], ids: Sequence[Any], params: dict[str, Any]) -> list[Any] | None:
    """Each loaded task's value of the style_transfer domain field (None when style transfer is not configured)."""
    field = (params.get("style_transfer") or {}).get("domain_field")
    if not field:
        return None
    data_of = {task.id: task.data or {} for task, _ in examples}
    return [data_of[int(i)].get(field) for i in ids]


@dataclass
class StoredRound:
    version: str
    number: int
    #: where the round's time went: inputs (load), fit, rank, select; decoded/cached input counts
    timings: dict[str, float]


def store_round(*, engine: Engine, artifacts: ArtifactStore, registries: Registries, keep_prediction_versions: int,
                project_id: int, resolved: ResolvedSettings, fitted: Fitted, pending: int, pruned: list[int],
                prune_rule: dict[str, Any] | None, served: ServedConfig,
                ranked: Callable[[], None] | None = None) -> StoredRound:
    """Rank the pool, call ``ranked`` (the round gives its training slot back: what follows waits on the disk),
    save the model, store version, ranking file and round, switch serving to it, and take the ``pending``
    annotations it was trained on off the retrain counter."""
    ps, learner, balanced = resolved.settings, fitted.learner, fitted.balanced
    with session_scope(engine) as session:
        number = crud.next_version_number(session=session, project_id=project_id)
    version = version_name(number)
    seed = zlib.crc32(f"{project_id}:{number}:{ps.seed}".encode())  # no clock: a replay ranks the same
    rank_started = time.perf_counter()
    round_row, ranking = rank_pool(
        project_id=project_id, version=version, learner=learner, pool=fitted.pool,
        labeled_inputs=fitted.loaded.inputs, labeled_y=fitted.y, settings=ps,
        registries=registries, seed=seed, strategy=resolved.strategy,
        prequential_accuracy=fitted.prequential_accuracy, task_type=served.task_type, config=served.config,
    )
    rank_seconds = time.perf_counter() - rank_started
    if ranked is not None:
        ranked()
    path = artifacts.save(project_id, version, learner, ps.learner)
    save_ranking(path, ranking)  # the version's full ranking: one file, no row per task
    with session_scope(engine) as session:
        stop_set = stop_set_record(session=session, project_id=project_id, learner=learner, pool=fitted.pool,
                                   labeled=fitted.loaded, ps=ps)
        crud.add_model_version(session=session, row=ModelVersion(
            project_id=project_id, version=version, number=number, learner=ps.learner,
            learner_params=learner.get_params(), n_train=len(fitted.y), class_counts=dict(fitted.counts),
            artifact=str(path), status="ready", train_seconds=fitted.seconds,
            metrics={**({} if balanced is None else {"balancing": balancing_summary(balanced.info)}),
                     **_learner_notes(learner, fitted),
                     **({"pruned": pruned} if pruned else {}), **({"prune_rule": prune_rule} if prune_rule else {}),
                     **({"stop_set": stop_set} if stop_set else {})},
        ))
        if balanced is not None and isinstance(balanced.info.get("synthetic"), SyntheticBatch):
            batch = balanced.info["synthetic"]
            save_synthetic(session=session, project_id=project_id, version=version, images=batch.images,
                           labels=batch.labels, confidence=batch.confidence, generator=batch.generator,
                           directory=path / "synthetic")
        crud.add_query_round(session=session, row=round_row)
        crud.set_serving_version(session=session, project_id=project_id, version=version)
        crud.subtract_trained_annotations(session=session, project_id=project_id, count=pending)
    with session_scope(engine) as session:  # Prediction rows left from before ranking files
        keep = [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                if v.status == "ready"][-keep_prediction_versions:]
        crud.prune_predictions(session=session, project_id=project_id, keep_versions=keep)
    loaded, pool = fitted.loaded, fitted.pool
    log.info("project %s: trained %s on %d labels, ranked %d tasks (inputs: %d cached, %d decoded in %.2f s)",
             project_id, version, len(fitted.y), len(ranking), pool.cached, pool.decoded, pool.seconds)
    return StoredRound(version, number, {
        "inputs": loaded.seconds + pool.seconds, "decoded": loaded.decoded + pool.decoded,
        "cached": loaded.cached + pool.cached, "fit": fitted.seconds, "rank": rank_seconds,
        "select": round_row.select_seconds})
