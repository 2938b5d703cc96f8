"""The service container: everything one app (or one CLI run) needs, built from Settings."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.labelstudio.publisher import LabelStudioPublisher
from labelsieve.labelstudio.pusher import PredictionPusher
from labelsieve.labelstudio.stale_versions import StaleVersionRemover
from labelsieve.labelstudio.tasksync import TaskSync
from labelsieve.learners.embedding_cache import EMBEDDINGS
from labelsieve.metrics import Metrics
from labelsieve.quality.driftjob import KEY as DRIFT
from labelsieve.quality.driftjob import drift_version
from labelsieve.quality.service_calls import tracker_for
from labelsieve.registry import Registries, get_registries
from labelsieve.service import fault_hooks
from labelsieve.service.cold_start import ColdStart
from labelsieve.service.cvjob import KEY as CV_ESTIMATE
from labelsieve.service.cvjob import estimate_version
from labelsieve.service.first_contact import FirstContact
from labelsieve.service.image_features import ImageFeatures
from labelsieve.service.intake import GroupCommit
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.observer import ObserverRounds
from labelsieve.service.quality_runner import QualityRunner
from labelsieve.service.setup_check import LabelStudioCheck
from labelsieve.service.text_features import TextFeatures
from labelsieve.service.waiting import WaitBoard
from labelsieve.service.worker import TrainingWorker
from labelsieve.settings import Settings
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import make_engine

log = logging.getLogger(__name__)


def configure_torch_threads(n: int) -> None:
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(max(1, n))


@dataclass
class Service:
    settings: Settings
    engine: Engine
    registries: Registries
    metrics: Metrics
    artifacts: ArtifactStore
    gateway: LabelStudioGateway
    loop: ActiveLearningLoop
    worker: TrainingWorker
    waits: WaitBoard
    setup_check: LabelStudioCheck
    #: TF-IDF rounds while a text pool's sentence embeddings are encoded in the background
    text_features: TextFeatures | None = None
    image_features: ImageFeatures | None = None
    quality: QualityRunner | None = None  # scorecard, review predictions, MLflow run after each retrain
    #: set once every learner and strategy plugin has been imported (background warm-up after start)
    plugins_ready: threading.Event = field(default_factory=threading.Event)
    #: the background sync, first training and first head of a project's first /setup
    first_contact: FirstContact | None = None
    #: observer mode's rounds (projects ranked from another backend's predictions)
    observer: ObserverRounds | None = None
    #: label-free first heads of projects with fewer labels than min_annotations
    cold_start: ColdStart | None = None
    #: the webhooks' group commit (one transaction and one fsync for the requests that arrive together)
    intake: GroupCommit | None = None
    #: the background import of every plugin after start (:meth:`start_warm_up`)
    warm_up: threading.Thread | None = None
    #: set by :meth:`stop`: the warm-up imports no further plugin
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        removed = self.artifacts.remove_orphans()
        if removed:
            log.warning("removed %d half-written model directories left by a crash", removed)
        if self.settings.start_workers:
            resumed = self.worker.recover()
            if resumed:
                log.info("resuming queued work of projects %s", resumed)

    def start_warm_up(self) -> None:
        """Load every learner and strategy plugin in a background thread (``labelsieve-warm-up``); ``plugins_ready``
        is set when it is done.

        Label Studio gives ``/setup`` 3 s, and the first one used to pay for importing scikit-learn (9 s on a loaded
        2-core machine); serving starts at once, and a ``/setup`` that arrives early waits only for what is left."""
        self.warm_up = threading.Thread(target=self._warm_up, name="labelsieve-warm-up", daemon=True)
        self.warm_up.start()

    def _warm_up(self) -> None:
        started = time.perf_counter()
        for registry in (self.registries.learners, self.registries.strategies):
            for name in registry.names():
                if self.stopping.is_set():
                    return
                try:
                    registry.load(name)
                except Exception:  # noqa: BLE001 - the registry logs it; /setup answers with the error
                    log.debug("warm-up could not load %s %r", registry.kind, name)
        self.plugins_ready.set()
        log.info("learners and strategies loaded in %.1f s", time.perf_counter() - started)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop and join every background thread the service started, each within ``timeout`` seconds: the
        interpreter must never exit under one of them (a thread inside torch or another C++ library when Python
        finalizes aborts the process). The threads still alive then are logged by name."""
        self.stopping.set()
        if self.quality is not None:  # first: a pass in progress ends before its next fit
            self.quality.stop(timeout)
        if self.first_contact is not None:
            self.first_contact.stop(timeout)
        if self.text_features is not None:
            self.text_features.stop(timeout)
        if self.image_features is not None:
            self.image_features.stop(timeout)
        if self.observer is not None:
            self.observer.stop()
        if self.intake is not None:
            self.intake.stop(timeout)
        self.worker.stop(timeout)
        if self.text_features is not None and EMBEDDINGS.root == self.settings.data_dir / "embeddings":
            EMBEDDINGS.attach(None)
        if self.loop.publisher is not None:  # the held prunes of stale versions in Label Studio run now and finish
            self.loop.publisher.stop()
        if self.warm_up is not None:
            self.warm_up.join(timeout)
        self.engine.dispose()
        left = [t.name for t in background_threads()]
        if left:
            log.warning("background threads still running after the service stopped: %s", ", ".join(left))


def background_threads() -> list[threading.Thread]:
    """The live threads labelsieve names ``labelsieve-*`` or ``ls-*`` (pushes and prunes in Label Studio), but the
    calling one."""
    return [t for t in threading.enumerate() if t.name.startswith(("labelsieve-", "ls-")) and t.is_alive()
            and t is not threading.current_thread()]


def build_service(settings: Settings) -> Service:
    """Build every collaborator once and hand each its collaborators through its constructor."""
    configure_torch_threads(settings.torch_threads)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url, migrate_schema=settings.migrate_on_start,
                         sqlite_synchronous=settings.sqlite_synchronous)
    registries = get_registries()
    registries.refresh()  # packages installed since the last start are found; run-time registrations stay
    metrics = Metrics()
    artifacts = ArtifactStore(settings.models_path)
    # new/deleted tasks reach us without exports (TaskSync); the head of the queue is topped up between retrains
    # while a project's first contact syncs its task list, the worker's refresh leaves the project to it
    gateway = LabelStudioGateway(engine=engine, settings=settings, task_sync=TaskSync(
        engine=engine, held=lambda pid: first_contact.holds(pid)))
    # push each new ranking into Label Studio when its URL and key are known (settings or /setup)
    publisher = LabelStudioPublisher(
        engine=engine, client_factory=gateway.client, keep_versions=settings.keep_prediction_versions,
        settings_of=lambda pid: loop.settings_of(loop.project(pid)).settings, state_dir=settings.data_dir / "queues",
        pusher=PredictionPusher(mode=settings.prediction_import, concurrency=settings.prediction_import_concurrency),
        pruner=StaleVersionRemover(keep_versions=settings.keep_prediction_versions,
                             delay_seconds=settings.prune_hold_seconds, hold=fault_hooks.before_prune),
        task_total_of=lambda pid: first_contact.tasks_total(pid))
    # sentence embeddings on disk (<data_dir>/embeddings); a pool beyond embedding_budget encodes in the background
    EMBEDDINGS.attach(settings.data_dir / "embeddings", max_rows=settings.embedding_store_rows)
    # background work (pool encoding, the data-quality pass) waits while a training round is coming or running
    rounds_quiet = lambda timeout: loop.train_slots.wait_quiet(timeout)  # noqa: E731
    text_features = TextFeatures(cache=EMBEDDINGS, retrain=lambda pid: worker.notify(pid, force=True),
                                 gate=rounds_quiet)
    image_features = ImageFeatures(cache=EMBEDDINGS, registries=registries,
                                   retrain=lambda pid: worker.notify(pid, force=True), gate=rounds_quiet)
    loop = ActiveLearningLoop(engine=engine, settings=settings, registries=registries, artifacts=artifacts,
                              metrics=metrics, gateway=gateway, publisher=publisher, text_features=text_features,
                              image_features=image_features)
    waits = WaitBoard(engine=engine, metrics=metrics)  # events waiting on Label Studio, and why
    # scorecard, review predictions and the MLflow run of each new version, in the background after its push
    quality = QualityRunner(host=loop, client_factory=gateway.client, api_key_of=gateway.api_key,
                            keep_versions=settings.keep_prediction_versions, tracker=tracker_for(engine, settings),
                            # the 5-fold estimate and the drift checks the status shows
                            jobs={CV_ESTIMATE: estimate_version, DRIFT: drift_version},
                            gate=rounds_quiet, min_interval_seconds=settings.background_interval_seconds)
    cold_start = ColdStart(loop=loop)
    # observer mode: rank another backend's stored predictions instead of training (service/observer.py)
    observer = ObserverRounds(engine=engine, settings=settings, gateway=gateway,
                              pusher=PredictionPusher(mode=settings.prediction_import,
                                                      concurrency=settings.prediction_import_concurrency),
                              notify=lambda pid: worker.notify(pid, force=True))
    worker = TrainingWorker(loop=loop, debounce_seconds=settings.debounce_seconds,
                            max_lag_seconds=settings.retrain_max_lag_seconds, puller_factory=gateway.puller,
                            verifier_factory=gateway.verifier if settings.verify_webhooks else None,
                            after_retrain=quality.submit, waits=waits, observer=observer,
                            cold_start=cold_start.rank)
    first_contact = FirstContact(engine=engine, gateway=gateway, round_for=lambda pid: worker.notify(pid, force=True),
                                 state_dir=settings.data_dir / "first_contact",
                                 page_size=settings.first_contact_page_size,
                                 first_page_size=settings.first_contact_first_page_size)
    return Service(settings=settings, engine=engine, registries=registries, metrics=metrics, artifacts=artifacts,
                   gateway=gateway, loop=loop, worker=worker, waits=waits, setup_check=LabelStudioCheck(settings),
                   quality=quality, text_features=text_features, image_features=image_features,
                   first_contact=first_contact, observer=observer,
                   cold_start=cold_start, intake=GroupCommit(engine))
