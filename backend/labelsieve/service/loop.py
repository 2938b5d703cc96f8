"""ActiveLearningLoop: the only place that knows the order of the steps.

store events → (debounced) retrain → save model atomically → rank the unlabeled pool (inputs
decoded once, kept in the input cache) → store the ranking beside the model (one file, no row per
task) → switch the serving version → publish (Label Studio push, when configured).

The HTTP service, the live loop and the simulation differ only in where labels come from.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from labelsieve.balancing.base import SyntheticBatch, balancing_summary
from labelsieve.balancing.prepare import TrainingSet, prepare_training_set
from labelsieve.balancing.stages import routed_params
from labelsieve.devices import device_scope
from labelsieve.input_cache import InputCache
from labelsieve.inputs import InputLoader
from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.learners.base import TrainingDataError
from labelsieve.metrics import Metrics
from labelsieve.quality.hooks import training_examples
from labelsieve.registry import Registries
from labelsieve.service import fault_hooks
from labelsieve.service.class_gauges import observe_classes
from labelsieve.service.image_features import ImageFeatures
from labelsieve.service.pool_inputs import PoolInputs, load_pool, load_tasks, pool_for_fit
from labelsieve.service.project_settings import (
    ProjectSettings,
    ResolvedSettings,
    parse_extra_params,
    resolve_settings,
)
from labelsieve.service.publishing import RankingPublisher
from labelsieve.service.ranking import rank_pool
from labelsieve.service.signals import best_prequential_accuracy
from labelsieve.service.slots import FairSlots
from labelsieve.service.stopping import stop_set_record
from labelsieve.service.text_features import TextFeatures
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion, Project, utcnow
from labelsieve.storage.rankings import save_ranking
from labelsieve.storage.synthetic import save_synthetic
from labelsieve.tasktypes import ServedConfig, task_type_for

log = logging.getLogger(__name__)



class UnknownProjectError(LookupError):
    """The project was never set up with this backend."""


@dataclass
class RetrainOutcome:
    status: str  # trained | skipped | failed
    version: str | None = None
    reason: str = ""
    seconds: float = 0.0
    #: where a trained round's time went: inputs (load), fit, infer+select (rank); decoded/cached input counts
    timings: dict[str, float] = field(default_factory=dict)


def version_name(number: int) -> str:
    return f"labelsieve-v{number}-{utcnow().strftime('%Y%m%d%H%M%S')}"


#: the serving version before the first model
UNTRAINED_VERSION = "labelsieve-v0"


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


def _settings_key(project: Project) -> str:
    return json.dumps([project.settings or {}, project.label_config], sort_keys=True, default=str)


class ActiveLearningLoop:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        registries: Registries,
        artifacts: ArtifactStore,
        metrics: Metrics,
        gateway: LabelStudioGateway,
        publisher: RankingPublisher | None = None,
        text_features: TextFeatures | None = None,
        image_features: ImageFeatures | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.registries = registries
        self.artifacts = artifacts
        self.metrics = metrics
        #: media fetchers and, when Label Studio's URL and key are known, the pool refresh before a retrain
        self.gateway = gateway
        self.publisher = publisher
        self.text_features = text_features  # TF-IDF rounds while a text pool's embeddings are encoded
        self.image_features = image_features  # pixel rounds while an image pool's encoder vectors are encoded
        self._models: dict[int, tuple[str, Any]] = {}
        #: decoded pool inputs kept between rounds (a round decodes only new or changed tasks)
        self.input_cache = InputCache(settings.input_cache_mb * 1024 * 1024)
        #: project id → (its stored settings and label config, resolved): resolved at /setup, reused by retrains
        self._resolved: dict[int, tuple[str, ResolvedSettings]] = {}
        self._served: dict[str, ServedConfig] = {}
        self._models_lock = threading.Lock()
        self._train_locks: dict[int, threading.Lock] = {}
        #: the training slots of all projects, first come first served (a busy project cannot starve a quiet one)
        self.train_slots = FairSlots(settings.max_concurrent_trainings, observe=self._slot_waited)

    # ----------------------------------------------------------------- projects
    def setup_project(
        self, *, project_id: int, label_config: str, extra_params: Any = None,
        hostname: str | None = None, access_token: str | None = None, title: str | None = None,
    ) -> str:
        """Validate config and settings, store the project; return the serving model version."""
        served = self.served(label_config)
        extra = parse_extra_params(extra_params)
        resolved = resolve_settings(settings=self.settings, extra=extra, config=served.config,
                                    registries=self.registries, task_type=served.task_type)
        with session_scope(self.engine) as session:
            project = crud.upsert_project(
                session=session, project_id=project_id, label_config=label_config, title=title,
                settings=extra if extra_params is not None else None, hostname=hostname,
                access_token=access_token,
            )
            if dict(project.settings or {}) == extra:  # else the stored settings are resolved at the next retrain
                self._resolved[project_id] = (_settings_key(project), resolved)
            return project.model_version or UNTRAINED_VERSION

    def project(self, project_id: int) -> Project:
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            raise UnknownProjectError(f"project {project_id} is not set up with this backend (POST /setup first)")
        return project

    def served(self, label_config: str) -> ServedConfig:
        """The task type serving ``label_config`` and its parsed config (discovered once per config text)."""
        cached = self._served.get(label_config)
        if cached is None:
            cached = task_type_for(label_config, self.registries)
            if len(self._served) > 256:
                self._served.clear()
            self._served[label_config] = cached
        return cached

    def config_of(self, project: Project) -> LabelConfig:
        config: LabelConfig = self.served(project.label_config).config
        return config

    def settings_of(self, project: Project, config: LabelConfig | None = None) -> ResolvedSettings:
        """The project's resolved settings: those ``/setup`` resolved while the stored settings and label config
        are unchanged, else resolved now (after a restart) and kept. Settings ``/setup`` could only check lightly
        (plugins not loaded yet: no strategy built) are resolved fully again the next time they are asked for."""
        key = _settings_key(project)
        cached = self._resolved.get(project.id)
        if cached is not None and cached[0] == key and cached[1].complete:
            return cached[1]
        resolved = resolve_settings(
            settings=self.settings, extra=dict(project.settings or {}),
            config=config or self.config_of(project), registries=self.registries, light=False,
            task_type=self.served(project.label_config).task_type,
            strategy=cached[1].strategy if cached is not None and cached[0] == key else None,
        )
        self._resolved[project.id] = (key, resolved)
        return resolved

    def refill(self, project_id: int) -> Any:
        """Between retrains: top the head of the serving version's queue up in Label Studio (see publisher)."""
        if self.publisher is None:
            return None
        try:
            return self.publisher.refill(project_id, self.project(project_id).model_version)
        except Exception:  # noqa: BLE001 - a failed refill is retried after the next event
            log.exception("refilling the queue of project %s failed", project_id)
            self.metrics.failures.labels("publish").inc()
            return None

    def input_loader(self, project: Project, input_kind: str) -> InputLoader:
        return InputLoader(config=self.config_of(project), input_kind=input_kind,
                           fetcher=self.gateway.fetcher(project))

    # ------------------------------------------------------------------- models
    def serving_model(self, project: Project) -> tuple[str, Any] | None:
        """(version, learner) currently serving for ``project``, loading it after a restart."""
        version = project.model_version
        if not version:
            return None
        with self._models_lock:
            cached = self._models.get(project.id)
            if cached is not None and cached[0] == version:
                return cached
        path = self.artifacts.path_for(project.id, version)
        manifest = self.artifacts.manifest(path)
        learner = self.registries.learners.load(manifest["learner"]).load(path)
        with self._models_lock:
            self._models[project.id] = (version, learner)
        return version, learner

    # ------------------------------------------------------------------ training
    def retrain(self, project_id: int, *, force: bool = False) -> RetrainOutcome:
        """Fit a new model on every stored label; on any failure the previous model keeps serving."""
        lock = self._train_locks.setdefault(project_id, threading.Lock())
        with lock:
            started = time.perf_counter()
            with self.train_slots.held(project_id):
                try:
                    outcome = self._retrain(project_id, force=force)
                except Exception as exc:  # noqa: BLE001 - a failed retrain must never take the service down
                    log.exception("retrain of project %s failed", project_id)
                    self._record_failure(project_id, exc)
                    outcome = RetrainOutcome("failed", reason=f"{type(exc).__name__}: {exc}")
            if outcome.status == "trained" and outcome.version:  # Label Studio I/O: another project may fit now
                self._publish(project_id, outcome.version)
            outcome.seconds = time.perf_counter() - started
            self.metrics.retrains.labels(str(project_id), outcome.status).inc()
            if outcome.status == "trained":
                self.metrics.retrain_duration.labels(str(project_id)).observe(outcome.seconds)
            return outcome

    def _retrain(self, project_id: int, *, force: bool) -> RetrainOutcome:
        project = self.project(project_id)
        config = self.config_of(project)
        resolved = self.settings_of(project, config)
        ps = resolved.settings
        self._refresh_pool(project_id)
        served = self.served(project.label_config)
        usable = None if served.name == "single_label" else (  # the task type reads its targets from the result
            lambda ann: served.task_type.target(ann.result, served.config) is not None)
        with session_scope(self.engine) as session:
            pending = project.annotations_since_train
            examples = crud.labeled_examples(session=session, project_id=project_id, usable=usable)
        examples, pruned, prune_rule = training_examples(self.artifacts, self.engine, project_id, ps.prune, examples)
        if not force and pending < ps.retrain_every and project.model_version:
            return RetrainOutcome("skipped", reason=f"{pending} new annotation(s), retrain_every={ps.retrain_every}")
        if len(examples) < ps.min_annotations:
            return RetrainOutcome("skipped", reason=f"{len(examples)} labelled task(s), need {ps.min_annotations}")
        with device_scope(ps.device):  # the project's torch device for the fit and the ranking (labelsieve.devices)
            try:
                fitted = self._fit(project, ps, examples)
            except TrainingDataError as exc:
                return RetrainOutcome("skipped", reason=str(exc))
            fitted.prequential_accuracy = best_prequential_accuracy(examples)
            version, timings = self._persist(project_id, resolved, fitted, pending, pruned, prune_rule)
        return RetrainOutcome("trained", version=version, timings=timings)  # retrain publishes it

    def _refresh_pool(self, project_id: int) -> None:
        """Store the tasks Label Studio has and we lack: unlabeled tasks it never sent us must be ranked too."""
        if self.publisher is not None:
            self.publisher.round_starting(project_id)  # the last prune runs meanwhile
        try:
            tasks = self.gateway.new_tasks(project_id)
            if tasks:
                with session_scope(self.engine) as session:
                    crud.upsert_tasks(session=session, project_id=project_id, tasks=tasks)
        except Exception:  # noqa: BLE001 - rank what we know when Label Studio is away
            log.exception("could not refresh the task pool of project %s from Label Studio", project_id)

    def _fit(self, project: Project, ps: ProjectSettings, examples: Sequence[tuple[Any, Any]]) -> Fitted:
        """Load the labelled and pool inputs (through the input cache), balance the labelled ones as configured
        and fit a new learner (raises TrainingDataError)."""
        learner = self.registries.learners.create(ps.learner, ps.learner_params)
        loader = self.input_loader(project, learner.input_kind)
        with session_scope(self.engine) as session:
            loaded = load_tasks(session=session, tasks=[t for t, _ in examples], loader=loader, cache=self.input_cache)
            pool = load_pool(session=session, project_id=project.id, loader=loader, cache=self.input_cache)
        params = ps.learner_params if self.text_features is None else self.text_features.learner_params(
            project.id, ps, learner.input_kind, [*loaded.inputs, *pool.inputs])  # TF-IDF while a pool encodes
        if self.image_features is not None and params is ps.learner_params:  # pixels while an image pool encodes
            params = self.image_features.learner_params(project.id, ps, learner.input_kind,
                                                        [*loaded.inputs, *pool.inputs])
        if params is not ps.learner_params:
            learner = self.registries.learners.create(ps.learner, params)
        if loaded.errors:
            self.metrics.failures.labels("media").inc(len(loaded.errors))
        served = self.served(project.label_config)
        if served.name == "single_label":  # the stored label is the target (unchanged behaviour)
            label_of: dict[int, Any] = {task.id: annotation.labels[0] for task, annotation in examples}
        else:  # the task type reads its target from the annotation's result
            label_of = {task.id: served.task_type.target(annotation.result, served.config)
                        for task, annotation in examples}
        y = [label_of[int(task_id)] for task_id in loaded.ids]
        counts = Counter(y) if served.task_type.supports_balancing else Counter(
            label for target in y for label in target)  # per-label counts for the class gauges
        self._observe_classes(project.id, counts)
        unlabeled = pool_for_fit(pool.inputs, np.random.default_rng(
            zlib.crc32(f"{project.id}:pool:{ps.seed}:{len(y)}".encode())))
        fit_started = time.perf_counter()
        balanced = None
        if ps.balancing and len(counts) >= 2:  # one class: let the learner explain why it cannot fit
            balanced = prepare_training_set(
                loaded.inputs, y, method=ps.balancing, params=ps.balancing_params, learner_name=ps.learner,
                learner_params=params,
                rng=np.random.default_rng(zlib.crc32(f"{project.id}:balancing:{ps.seed}:{len(y)}".encode())),
            )
            if balanced.learner_overrides:  # a staged learner (auto_image) takes torch overrides in its CNN stage
                learner = self.registries.learners.create(
                    ps.learner, routed_params(type(learner), params, balanced.learner_overrides))
        fault_hooks.before_fit(project.id, len(y))  # a test hook: blocks here only when a test asks it to
        if balanced is None:
            learner.fit(loaded.inputs, y, unlabeled=unlabeled)
        else:
            learner.fit(balanced.X, balanced.y, sample_weight=balanced.sample_weight, unlabeled=unlabeled)
        return Fitted(learner, loader, loaded, pool, y, counts, balanced, time.perf_counter() - fit_started)

    def _persist(self, project_id: int, resolved: ResolvedSettings, fitted: Fitted, pending: int,
                 pruned: list[int], prune_rule: dict[str, Any] | None = None) -> tuple[str, dict[str, float]]:
        """Save the model, rank the pool, store version, ranking file and round, and switch serving to it."""
        ps, learner, balanced = resolved.settings, fitted.learner, fitted.balanced
        with session_scope(self.engine) as session:
            number = crud.next_version_number(session=session, project_id=project_id)
        version = version_name(number)
        path = self.artifacts.save(project_id, version, learner, ps.learner)
        seed = zlib.crc32(f"{project_id}:{number}:{ps.seed}".encode())  # no clock: a replay ranks the same
        rank_started = time.perf_counter()
        round_row, ranking = rank_pool(
            project_id=project_id, version=version, learner=learner, pool=fitted.pool,
            labeled_inputs=fitted.loaded.inputs, labeled_y=fitted.y, settings=ps,
            registries=self.registries, seed=seed, strategy=resolved.strategy,
            prequential_accuracy=fitted.prequential_accuracy,
            task_type=self.served(self.project(project_id).label_config).task_type,
            config=self.served(self.project(project_id).label_config).config,
        )
        rank_seconds = time.perf_counter() - rank_started
        save_ranking(path, ranking)  # the version's full ranking: one file, no row per task
        with session_scope(self.engine) as session:
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
            session.execute(
                update(Project).where(col(Project.id) == project_id).values(
                    annotations_since_train=Project.annotations_since_train - pending
                )
            )
        with session_scope(self.engine) as session:  # Prediction rows left from before ranking files
            keep = [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                    if v.status == "ready"][-self.settings.keep_prediction_versions:]
            crud.prune_predictions(session=session, project_id=project_id, keep_versions=keep)
        with self._models_lock:
            self._models[project_id] = (version, learner)
        self.metrics.model_version.labels(str(project_id)).set(number)
        loaded, pool = fitted.loaded, fitted.pool
        log.info("project %s: trained %s on %d labels, ranked %d tasks (inputs: %d cached, %d decoded in %.2f s)",
                 project_id, version, len(fitted.y), len(ranking), pool.cached, pool.decoded, pool.seconds)
        return version, {
            "inputs": loaded.seconds + pool.seconds, "decoded": loaded.decoded + pool.decoded,
            "cached": loaded.cached + pool.cached, "fit": fitted.seconds, "rank": rank_seconds,
            "select": round_row.select_seconds}

    def _publish(self, project_id: int, version: str) -> None:
        if self.publisher is not None:
            try:
                self.publisher(project_id, version)
            except Exception:  # noqa: BLE001 - publishing is retried on the next round
                log.exception("publishing %s of project %s failed", version, project_id)
                self.metrics.failures.labels("publish").inc()

    def _slot_waited(self, project_id: int, seconds: float) -> None:
        self.metrics.slot_waits.labels(str(project_id)).inc()
        self.metrics.slot_wait.labels(str(project_id)).observe(seconds)

    def _observe_classes(self, project_id: int, counts: Counter[str]) -> None:
        observe_classes(self.metrics, project_id, counts)

    def _record_failure(self, project_id: int, exc: Exception) -> None:
        self.metrics.failures.labels("retrain").inc()
        try:
            with session_scope(self.engine) as session:
                number = crud.next_version_number(session=session, project_id=project_id)
                crud.add_model_version(session=session, row=ModelVersion(
                    project_id=project_id, version=f"failed-{number}-{int(time.time())}", number=number,
                    learner="", status="failed", error=f"{type(exc).__name__}: {exc}"[:4000],
                ))
        except Exception:  # noqa: BLE001
            log.exception("could not record the failed retrain of project %s", project_id)

