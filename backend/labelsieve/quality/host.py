"""What the background quality jobs need of the service (duck-typed: quality sits below service), the
fingerprint of a labelled set that lets a job reuse the previous version's result, and how a job stops early when
the service stops (:class:`PassStopped`, raised before the next model a job would fit)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Engine

from labelsieve.storage.artifacts import ArtifactStore

T = TypeVar("T")


class PassStopped(Exception):
    """The service is stopping: the background pass ends before its next fit, and nothing of it is stored."""


def raise_if_stopped(stopped: Callable[[], bool] | None) -> None:
    """:class:`PassStopped` once ``stopped()`` is true (None: never)."""
    if stopped is not None and stopped():
        raise PassStopped("the service is stopping")


def stop_between_fits(create: Callable[..., T], stopped: Callable[[], bool] | None) -> Callable[..., T]:
    """``create`` (a learner factory called once per fold) that raises :class:`PassStopped` instead once
    ``stopped()`` is true: a pass of many fits ends within one fit of the service's stop."""
    if stopped is None:
        return create

    def checked(*args: Any, **kwargs: Any) -> T:
        raise_if_stopped(stopped)
        return create(*args, **kwargs)

    return checked


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
