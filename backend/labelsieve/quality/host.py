"""What the background quality jobs need of the service (duck-typed: quality sits below service), and the
fingerprint of a labelled set that lets a job reuse the previous version's result."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from labelsieve.storage.artifacts import ArtifactStore


class QualityHost(Protocol):
    """What the jobs need of the service's ActiveLearningLoop."""

    engine: Engine
    artifacts: ArtifactStore
    registries: Any

    def project(self, project_id: int) -> Any: ...
    def settings_of(self, project: Any, config: Any = None) -> Any: ...
    def serving_model(self, project: Any) -> tuple[str, Any] | None: ...
    def input_loader(self, project: Any, input_kind: str) -> Any: ...
    def config_of(self, project: Any) -> Any: ...
    def served(self, label_config: str) -> Any: ...


def fingerprint(examples: list[tuple[Any, Any]], recipe: dict[str, Any]) -> str:
    """Changes when an annotation (id, labels, update time: an edited result is a new update time) or the
    learner recipe changes."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode())
    for task, annotation in sorted(examples, key=lambda e: int(e[1].id)):
        digest.update(f"{task.id}:{annotation.id}:{annotation.labels}:{annotation.updated_at}".encode())
    return digest.hexdigest()
