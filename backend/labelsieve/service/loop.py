"""ActiveLearningLoop: the only place that knows the order of the steps.

store events → (debounced) retrain → save model atomically → rank the unlabeled pool →
store predictions → switch the serving version → publish (Label Studio push, when configured).

The HTTP service, the live loop and the simulation differ only in where labels come from.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from labelsieve.balancing.base import SyntheticBatch, balancing_summary
from labelsieve.balancing.prepare import prepare_training_set
from labelsieve.inputs import InputLoader
from labelsieve.labelconfig import LabelConfig, UnsupportedLabelConfig, parse_label_config
from labelsieve.labelstudio.auth import TokenAuth
from labelsieve.labelstudio.media import MediaFetcher
from labelsieve.learners.base import TrainingDataError
from labelsieve.metrics import Metrics
from labelsieve.registry import Registries
from labelsieve.service import fault_hooks
from labelsieve.service.project_settings import ProjectSettings, parse_extra_params, resolve_settings
from labelsieve.service.ranking import rank_pool
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import ModelVersion, Project, utcnow
from labelsieve.storage.synthetic import save_synthetic

log = logging.getLogger(__name__)

#: publish(project_id, model_version) — called after a new version and its ranking are stored.
Publisher = Callable[[int, str], None]


class UnknownProjectError(LookupError):
    """The project was never set up with this backend."""


@dataclass
class RetrainOutcome:
    status: str  # trained | skipped | failed
    version: str | None = None
    reason: str = ""
    seconds: float = 0.0


def version_name(number: int) -> str:
    return f"labelsieve-v{number}-{utcnow().strftime('%Y%m%d%H%M%S')}"


class ActiveLearningLoop:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        registries: Registries,
        artifacts: ArtifactStore,
        metrics: Metrics,
        publisher: Publisher | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.registries = registries
        self.artifacts = artifacts
        self.metrics = metrics
        self.publisher = publisher
        #: task_source(project_id) → every task of the project in Label Studio (refreshes the pool before a retrain)
        self.task_source: Callable[[int], list[dict[str, Any]]] | None = None
        self._models: dict[int, tuple[str, Any]] = {}
        self._models_lock = threading.Lock()
        self._train_locks: dict[int, threading.Lock] = {}
        self._train_slots = threading.BoundedSemaphore(max(1, settings.max_concurrent_trainings))

    # ----------------------------------------------------------------- projects
    def setup_project(
        self, *, project_id: int, label_config: str, extra_params: Any = None,
        hostname: str | None = None, access_token: str | None = None, title: str | None = None,
    ) -> str:
        """Validate config and settings, store the project; return the serving model version."""
        config = parse_label_config(label_config)
        if config.multiple:
            raise UnsupportedLabelConfig(
                'choice="multiple" (multi-label) is parsed but not learnable yet; use single choice'
            )
        extra = parse_extra_params(extra_params)
        resolve_settings(settings=self.settings, extra=extra, config=config, registries=self.registries)
        with session_scope(self.engine) as session:
            project = crud.upsert_project(
                session=session, project_id=project_id, label_config=label_config, title=title,
                settings=extra if extra_params is not None else None, hostname=hostname,
                access_token=access_token,
            )
            return project.model_version or self.untrained_version(project_id)

    @staticmethod
    def untrained_version(project_id: int) -> str:
        return "labelsieve-v0"

    def project(self, project_id: int) -> Project:
        with session_scope(self.engine) as session:
            project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            raise UnknownProjectError(f"project {project_id} is not set up with this backend (POST /setup first)")
        return project

    def config_of(self, project: Project) -> LabelConfig:
        return parse_label_config(project.label_config)

    def settings_of(self, project: Project, config: LabelConfig | None = None) -> ProjectSettings:
        return resolve_settings(
            settings=self.settings, extra=dict(project.settings or {}),
            config=config or self.config_of(project), registries=self.registries,
        )

    def fetcher_for(self, project: Project) -> MediaFetcher:
        url = self.settings.label_studio_url or project.ls_hostname or None
        key = self.settings.label_studio_api_key or project.ls_access_token or None
        auth = TokenAuth(url, key, timeout=self.settings.media_timeout_seconds) if url and key else None
        return MediaFetcher(
            base_url=url, auth=auth, document_root=self.settings.local_files_document_root,
            cache_dir=self.settings.media_cache_dir, timeout=self.settings.media_timeout_seconds,
            max_bytes=self.settings.max_media_bytes, max_pixels=self.settings.max_image_pixels,
        )

    def input_loader(self, project: Project, input_kind: str) -> InputLoader:
        return InputLoader(config=self.config_of(project), input_kind=input_kind, fetcher=self.fetcher_for(project))

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
        with lock, self._train_slots:
            started = time.perf_counter()
            try:
                outcome = self._retrain(project_id, force=force)
            except Exception as exc:  # noqa: BLE001 - a failed retrain must never take the service down
                log.exception("retrain of project %s failed", project_id)
                self._record_failure(project_id, exc)
                outcome = RetrainOutcome("failed", reason=f"{type(exc).__name__}: {exc}")
            outcome.seconds = time.perf_counter() - started
            self.metrics.retrains.labels(str(project_id), outcome.status).inc()
            if outcome.status == "trained":
                self.metrics.retrain_duration.labels(str(project_id)).observe(outcome.seconds)
            return outcome

    def _retrain(self, project_id: int, *, force: bool) -> RetrainOutcome:
        project = self.project(project_id)
        config = self.config_of(project)
        ps = self.settings_of(project, config)
        if self.task_source is not None:  # unlabeled tasks Label Studio never sent us must be ranked too
            try:
                tasks = self.task_source(project_id)
                with session_scope(self.engine) as session:
                    crud.upsert_tasks(session=session, project_id=project_id, tasks=tasks)
            except Exception:  # noqa: BLE001 - rank what we know when Label Studio is away
                log.exception("could not refresh the task pool of project %s from Label Studio", project_id)
        with session_scope(self.engine) as session:
            pending = project.annotations_since_train
            examples = crud.labeled_examples(session=session, project_id=project_id)
            pool = crud.pool_tasks(session=session, project_id=project_id)
        if not force and pending < ps.retrain_every and project.model_version:
            return RetrainOutcome("skipped", reason=f"{pending} new annotation(s), retrain_every={ps.retrain_every}")
        if len(examples) < ps.min_annotations:
            return RetrainOutcome("skipped", reason=f"{len(examples)} labelled task(s), need {ps.min_annotations}")

        learner = self.registries.learners.create(ps.learner, ps.learner_params)
        loader = self.input_loader(project, learner.input_kind)
        loaded = loader.load([task.data for task, _ in examples])
        if loaded.errors:
            self.metrics.failures.labels("media").inc(len(loaded.errors))
        y = [examples[i][1].labels[0] for i in loaded.positions]
        counts = Counter(y)
        self._observe_classes(project_id, counts)
        unlabeled = None
        if learner.input_kind == "text":
            unlabeled = [task.data.get(config.data_key) for task in pool[:20000]]
            unlabeled = [str(u) for u in unlabeled if u is not None]
        fit_started = time.perf_counter()
        balanced = None
        if ps.balancing and len(counts) >= 2:  # one class: let the learner explain why it cannot fit
            balanced = prepare_training_set(
                loaded.inputs, y, method=ps.balancing, params=ps.balancing_params, learner_name=ps.learner,
                rng=np.random.default_rng(zlib.crc32(f"{project_id}:balancing:{ps.seed}:{len(y)}".encode())),
            )
            if balanced.learner_overrides:
                learner = self.registries.learners.create(
                    ps.learner, {**ps.learner_params, **balanced.learner_overrides}
                )
        fault_hooks.before_fit(project_id, len(y))
        try:
            if balanced is None:
                learner.fit(loaded.inputs, y, unlabeled=unlabeled)
            else:
                learner.fit(balanced.X, balanced.y, sample_weight=balanced.sample_weight, unlabeled=unlabeled)
        except TrainingDataError as exc:
            return RetrainOutcome("skipped", reason=str(exc))
        fit_seconds = time.perf_counter() - fit_started

        with session_scope(self.engine) as session:
            number = crud.next_version_number(session=session, project_id=project_id)
        version = version_name(number)
        path = self.artifacts.save(project_id, version, learner, ps.learner)
        seed = zlib.crc32(f"{project_id}:{number}:{ps.seed}".encode())  # no clock: a replay ranks the same
        round_row, rows = rank_pool(
            project_id=project_id, version=version, learner=learner, pool=pool,
            labeled_inputs=loaded.inputs, labeled_y=y, loader=loader, settings=ps,
            registries=self.registries, seed=seed,
        )
        with session_scope(self.engine) as session:
            crud.add_model_version(session=session, row=ModelVersion(
                project_id=project_id, version=version, number=number, learner=ps.learner,
                learner_params=learner.get_params(), n_train=len(y), class_counts=dict(counts),
                artifact=str(path), status="ready", train_seconds=fit_seconds,
                metrics={} if balanced is None else {"balancing": balancing_summary(balanced.info)},
            ))
            if balanced is not None and isinstance(balanced.info.get("synthetic"), SyntheticBatch):
                batch = balanced.info["synthetic"]
                save_synthetic(session=session, project_id=project_id, version=version, images=batch.images,
                               labels=batch.labels, confidence=batch.confidence, generator=batch.generator,
                               directory=path / "synthetic")
            crud.save_predictions(session=session, rows=rows)
            crud.add_query_round(session=session, row=round_row)
            crud.set_serving_version(session=session, project_id=project_id, version=version)
            session.execute(
                update(Project).where(col(Project.id) == project_id).values(
                    annotations_since_train=Project.annotations_since_train - pending
                )
            )
        with session_scope(self.engine) as session:
            keep = [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                    if v.status == "ready"][-self.settings.keep_prediction_versions:]
            crud.prune_predictions(session=session, project_id=project_id, keep_versions=keep)
        with self._models_lock:
            self._models[project_id] = (version, learner)
        self.metrics.model_version.labels(str(project_id)).set(number)
        log.info("project %s: trained %s on %d labels, ranked %d tasks", project_id, version, len(y), len(rows))
        if self.publisher is not None:
            try:
                self.publisher(project_id, version)
            except Exception:  # noqa: BLE001 - publishing is retried on the next round
                log.exception("publishing %s of project %s failed", version, project_id)
                self.metrics.failures.labels("publish").inc()
        return RetrainOutcome("trained", version=version)

    def _observe_classes(self, project_id: int, counts: Counter[str]) -> None:
        seen = {s.labels["label"] for metric in self.metrics.class_count.collect() for s in metric.samples
                if s.labels.get("project") == str(project_id)}
        for label in seen - set(counts):  # a class whose last label was removed or changed: now 0
            self.metrics.class_count.labels(str(project_id), label).set(0)
        for label, count in counts.items():
            self.metrics.class_count.labels(str(project_id), label).set(count)
        self.metrics.labeled.labels(str(project_id)).set(sum(counts.values()))
        if counts:
            self.metrics.imbalance_ratio.labels(str(project_id)).set(
                max(counts.values()) / max(1, min(counts.values()))
            )

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


def class_balance(labels: list[str]) -> dict[str, Any]:
    counts = Counter(labels)
    ratio = (max(counts.values()) / max(1, min(counts.values()))) if counts else 0.0
    return {"counts": dict(counts), "imbalance_ratio": float(np.round(ratio, 3))}
