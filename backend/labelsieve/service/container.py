"""The service container: everything one app (or one CLI run) needs, built from Settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.client import LabelStudioClient, LabelStudioError
from labelsieve.labelstudio.publisher import LabelStudioPublisher
from labelsieve.metrics import Metrics
from labelsieve.registry import Registries
from labelsieve.service.events import Puller
from labelsieve.service.loop import ActiveLearningLoop
from labelsieve.service.setup_check import LabelStudioCheck
from labelsieve.service.waiting import WaitBoard
from labelsieve.service.worker import TrainingWorker
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import make_engine, session_scope

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
    loop: ActiveLearningLoop
    worker: TrainingWorker
    waits: WaitBoard
    setup_check: LabelStudioCheck
    #: set once every learner and strategy plugin has been imported (background warm-up after start)
    plugins_ready: threading.Event = field(default_factory=threading.Event)

    def label_studio_client(self, project_id: int) -> LabelStudioClient | None:
        url, key = self.settings.label_studio_url, self.settings.label_studio_api_key
        if not (url and key):
            with session_scope(self.engine) as session:
                project = crud.get_project(session=session, project_id=project_id)
            if project is not None:
                url, key = url or project.ls_hostname or None, key or project.ls_access_token or None
        return LabelStudioClient(url, key) if url and key else None

    def puller(self, project_id: int) -> Puller | None:
        client = self.label_studio_client(project_id)
        return client.export_tasks if client is not None else None

    def new_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of the project when Label Studio has a task count other than ours, else nothing.

        Refreshes the pool before a retrain; the count check (``GET /api/projects/{id}/``) spares the full
        export, which carries every task's annotations and predictions (seconds per retrain at 10k tasks)."""
        client = self.label_studio_client(project_id)
        if client is None:
            return []
        with session_scope(self.engine) as session:
            known = crud.count_tasks(session=session, project_id=project_id)
        try:
            unchanged = int(client.get_project(project_id).get("task_number") or 0) == known
        except LabelStudioError:  # cannot tell: export
            unchanged = False
        return [] if unchanged else client.export_tasks(project_id)

    def verify_annotation(self, project_id: int, annotation: dict[str, Any]) -> dict[str, Any] | None:
        """Label Studio's copy of a webhook's annotation (None if it has none): a forged webhook plants nothing.
        Without a Label Studio key the webhook is trusted as sent (see README, Security and reliability)."""
        client = self.label_studio_client(project_id)
        return annotation if client is None else client.get_annotation(int(annotation["id"]))

    def start(self) -> None:
        removed = self.artifacts.remove_orphans()
        if removed:
            log.warning("removed %d half-written model directories left by a crash", removed)
        if self.settings.start_workers:
            resumed = self.worker.recover()
            if resumed:
                log.info("resuming queued work of projects %s", resumed)

    def stop(self) -> None:
        self.worker.stop()
        self.engine.dispose()


def build_service(settings: Settings) -> Service:
    configure_torch_threads(settings.torch_threads)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    registries = Registries()
    metrics = Metrics()
    artifacts = ArtifactStore(settings.models_path)
    loop = ActiveLearningLoop(engine=engine, settings=settings, registries=registries, artifacts=artifacts,
                              metrics=metrics)
    waits = WaitBoard(engine=engine, metrics=metrics)
    worker = TrainingWorker(loop=loop, debounce_seconds=settings.debounce_seconds, waits=waits)
    service = Service(settings=settings, engine=engine, registries=registries, metrics=metrics,
                      artifacts=artifacts, loop=loop, worker=worker, waits=waits,
                      setup_check=LabelStudioCheck(settings))
    worker.puller_factory = service.puller
    # push each new ranking into Label Studio when its URL and key are known (settings or /setup)
    loop.publisher = LabelStudioPublisher(engine=engine, client_factory=service.label_studio_client,
                                          keep_versions=settings.keep_prediction_versions,
                                          preannotate_threshold=settings.preannotate_threshold)
    loop.task_source = service.new_tasks
    worker.verifier = service.verify_annotation if settings.verify_webhooks else None
    return service
