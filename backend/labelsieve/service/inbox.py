"""What the inbox's appliers share: the callbacks into Label Studio and the outcome of applying events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from labelsieve.labelconfig import UnsupportedLabelConfig
from labelsieve.labelstudio.errors import RetryLater
from labelsieve.tasktypes import ServedConfig, task_type_for

#: pull(project_id) -> list of Label Studio task dicts with their ``annotations`` (START_TRAINING).
Puller = Callable[[int], list[dict[str, Any]]]
#: verify(project_id, annotation dict) -> the annotation as Label Studio has it, or None if gone.
Verifier = Callable[[int, dict[str, Any]], dict[str, Any] | None]


@dataclass
class Applied:
    changed: int = 0
    force_train: bool = False
    deferred: bool = False
    more: bool = False  # stopped at ``max_events`` with events still queued
    retry: RetryLater | None = None  # why the events wait (deferred), for /health and /projects/{id}
    errors: list[str] = field(default_factory=list)

    def add(self, other: Applied) -> None:
        self.changed += other.changed
        self.force_train = self.force_train or other.force_train
        self.deferred = self.deferred or other.deferred
        self.retry = other.retry or self.retry
        self.errors.extend(other.errors)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=64)
def served_config(label_config: str) -> ServedConfig | None:
    """The project's task type and its view of the label config (a taxonomy's leaves too), or None when it has
    none we can read."""
    try:
        return task_type_for(label_config) if label_config else None
    except UnsupportedLabelConfig:
        return None

