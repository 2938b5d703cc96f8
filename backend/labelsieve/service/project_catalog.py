"""ProjectCatalog: the projects this backend serves, as the loop and the background jobs read them.

A project's row, the task type serving its label config, its resolved settings (resolved at ``/setup``, reused by
the retrains while its stored settings and label config are unchanged), the loader of its inputs and the model
version serving it (loaded from the artifact store after a restart). The active-learning loop
(:mod:`labelsieve.service.loop`) adds the rounds that train and rank; the data-quality jobs read projects through
the same methods (:class:`labelsieve.quality.host.QualityHost`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.inputs import InputLoader
from labelsieve.labelconfig import LabelConfig
from labelsieve.labelstudio.gateway import LabelStudioGateway
from labelsieve.registry import Registries
from labelsieve.service.project_settings import ResolvedSettings, parse_extra_params, resolve_settings
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project
from labelsieve.tasktypes import ServedConfig, task_type_for


class UnknownProjectError(LookupError):
    """The project was never set up with this backend."""


#: the serving version before the first model
UNTRAINED_VERSION = "labelsieve-v0"


def _settings_key(project: Project) -> str:
    return json.dumps([project.settings or {}, project.label_config], sort_keys=True, default=str)


class ProjectCatalog:
    def __init__(self, *, engine: Engine, settings: Settings, registries: Registries, artifacts: ArtifactStore,
                 gateway: LabelStudioGateway) -> None:
        self.engine = engine
        self.settings = settings
        self.registries = registries
        self.artifacts = artifacts
        #: media fetchers and, when Label Studio's URL and key are known, the pool refresh before a retrain
        self.gateway = gateway
        #: project id → (version, learner) serving it
        self._models: dict[int, tuple[str, Any]] = {}
        self._models_lock = threading.Lock()
        #: project id → (its stored settings and label config, resolved): resolved at /setup, reused by retrains
        self._resolved: dict[int, tuple[str, ResolvedSettings]] = {}
        self._served: dict[str, ServedConfig] = {}

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
