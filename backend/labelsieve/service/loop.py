"""ActiveLearningLoop: the only place that knows the order of the steps.

store events → (debounced) retrain → save model atomically → rank the unlabeled pool (inputs
decoded once, kept in the input cache) → store the ranking beside the model (one file, no row per
task) → switch the serving version → publish (Label Studio push, when configured).

The HTTP service, the live loop and the simulation differ only in where labels come from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.devices import device_scope
from labelsieve.input_cache import InputCache
from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.learners.base import TrainingDataError
from labelsieve.learners.svd_cache import SVDS
from labelsieve.metrics import Metrics
from labelsieve.quality.service_calls import training_examples
from labelsieve.registry import Registries
from labelsieve.service.image_features import ImageFeatures
from labelsieve.service.project_catalog import ProjectCatalog
from labelsieve.service.project_settings import ProjectSettings, ResolvedSettings
from labelsieve.service.publishing import RankingPublisher
from labelsieve.service.signals import best_prequential_accuracy
from labelsieve.service.slots import FairSlots, Slot
from labelsieve.service.text_features import TextFeatures
from labelsieve.service.training import Fitted, fit_round, store_round
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion, Project

log = logging.getLogger(__name__)


@dataclass
class RetrainOutcome:
    status: str  # trained | skipped | failed
    version: str | None = None
    reason: str = ""
    seconds: float = 0.0
    #: where a trained round's time went: inputs (load), fit, infer+select (rank); decoded/cached input counts
    timings: dict[str, float] = field(default_factory=dict)


class ActiveLearningLoop(ProjectCatalog):
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
        super().__init__(engine=engine, settings=settings, registries=registries, artifacts=artifacts, gateway=gateway)
        self.metrics = metrics
        self.publisher = publisher
        self.text_features = text_features  # TF-IDF rounds while a text pool's embeddings are encoded
        self.image_features = image_features  # pixel rounds while an image pool's encoder vectors are encoded
        #: decoded pool inputs kept between rounds (a round decodes only new or changed tasks)
        self.input_cache = InputCache(settings.input_cache_mb * 1024 * 1024)
        self._train_locks: dict[int, threading.Lock] = {}
        #: the training slots of all projects, first come first served (a busy project cannot starve a quiet one)
        self.train_slots = FairSlots(settings.max_concurrent_trainings, observe=self._slot_waited)

    # ------------------------------------------------------------------ queue
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

    # ------------------------------------------------------------------ training
    def retrain(self, project_id: int, *, force: bool = False) -> RetrainOutcome:
        """Fit a new model on every stored label; on any failure the previous model keeps serving."""
        lock = self._train_locks.setdefault(project_id, threading.Lock())
        with lock:
            started = time.perf_counter()
            with self.train_slots.expect(project_id) as coming:  # background jobs wait for this round from now
                self._refresh_pool(project_id)  # Label Studio I/O, before the slot: another project may fit meanwhile
                requested = time.perf_counter()
                with self.train_slots.held(project_id, coming) as slot:
                    outcome = self._in_slot(project_id, force, slot)
            if outcome.status == "trained" and outcome.version:  # Label Studio I/O: another project may fit now
                publish_started = time.perf_counter()
                self._publish(project_id, outcome.version)
                outcome.timings["publish"] = time.perf_counter() - publish_started
            outcome.seconds = time.perf_counter() - started
            outcome.timings.update(refresh=requested - started, slot_wait=outcome.timings.pop("granted") - requested)
            self.metrics.retrains.labels(str(project_id), outcome.status).inc()
            if outcome.status == "trained":
                self.metrics.retrain_duration.labels(str(project_id)).observe(outcome.seconds)
            return outcome

    def _in_slot(self, project_id: int, force: bool, slot: Slot) -> RetrainOutcome:
        """The round's work from its slot's grant: fit, rank; the slot goes back before the durable writes."""
        granted, cpu_started, svd_misses = time.perf_counter(), time.thread_time(), SVDS.misses
        try:
            outcome = self._retrain(project_id, force=force, ranked=slot.release)
        except Exception as exc:  # noqa: BLE001 - a failed retrain must never take the service down
            log.exception("retrain of project %s failed", project_id)
            self._record_failure(project_id, exc)
            outcome = RetrainOutcome("failed", reason=f"{type(exc).__name__}: {exc}")
        # the round's CPU seconds on this thread (wall far above it: the round waited for cores, the GIL or the disk)
        outcome.timings.update(granted=granted, cpu=time.thread_time() - cpu_started,
                               svd_misses=SVDS.misses - svd_misses)
        return outcome

    def _retrain(self, project_id: int, *, force: bool, ranked: Callable[[], None] | None = None) -> RetrainOutcome:
        project = self.project(project_id)
        config = self.config_of(project)
        resolved = self.settings_of(project, config)
        ps = resolved.settings
        examples_started = time.perf_counter()
        served = self.served(project.label_config)
        usable = None if served.name == "single_label" else (  # the task type reads its targets from the result
            lambda ann: served.task_type.target(ann.result, served.config) is not None)
        with session_scope(self.engine) as session:
            pending = project.annotations_since_train
            examples = crud.labeled_examples(session=session, project_id=project_id, usable=usable)
        examples, pruned, prune_rule = training_examples(self.artifacts, self.engine, project_id, ps.prune, examples)
        phases = {"examples": time.perf_counter() - examples_started}
        if not force and pending < ps.retrain_every and project.model_version:
            return RetrainOutcome("skipped", reason=f"{pending} new annotation(s), retrain_every={ps.retrain_every}")
        if len(examples) < ps.min_annotations:
            return RetrainOutcome("skipped", reason=f"{len(examples)} labelled task(s), need {ps.min_annotations}")
        fit_started, fit_cpu = time.perf_counter(), time.thread_time()
        with device_scope(ps.device):  # the project's torch device for the fit and the ranking (labelsieve.devices)
            try:
                fitted = self._fit(project, ps, examples)
            except TrainingDataError as exc:
                return RetrainOutcome("skipped", reason=str(exc))
            fitted.prequential_accuracy = best_prequential_accuracy(examples)
            store_started, store_cpu = time.perf_counter(), time.thread_time()
            version, timings = self._store(project_id, resolved, fitted, pending, pruned, prune_rule, ranked)
        # where the round went: refresh (Label Studio's new tasks), examples (labels read), fit_round (inputs + fit),
        # store (save, rank, version rows); retrain adds publish (head pushed, version switched in Label Studio)
        timings = {**phases, "fit_round": store_started - fit_started, **timings,
                   "store": time.perf_counter() - store_started,
                   "fit_round_cpu": store_cpu - fit_cpu, "store_cpu": time.thread_time() - store_cpu}
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
        return fit_round(engine=self.engine, registries=self.registries, metrics=self.metrics, project=project,
                         ps=ps, examples=examples, served=self.served(project.label_config),
                         loader_for=lambda kind: self.input_loader(project, kind), cache=self.input_cache,
                         text_features=self.text_features, image_features=self.image_features)

    def _store(self, project_id: int, resolved: ResolvedSettings, fitted: Fitted, pending: int,
               pruned: list[int], prune_rule: dict[str, Any] | None,
               ranked: Callable[[], None] | None = None) -> tuple[str, dict[str, float]]:
        """Store the round (:func:`store_round`) and serve its model from memory."""
        served = self.served(self.project(project_id).label_config)
        stored = store_round(engine=self.engine, artifacts=self.artifacts, registries=self.registries,
                             keep_prediction_versions=self.settings.keep_prediction_versions, project_id=project_id,
                             resolved=resolved, fitted=fitted, pending=pending, pruned=pruned, prune_rule=prune_rule,
                             served=served, ranked=ranked)
        with self._models_lock:
            self._models[project_id] = (stored.version, fitted.learner)
        self.metrics.model_version.labels(str(project_id)).set(stored.number)
        return stored.version, stored.timings

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

