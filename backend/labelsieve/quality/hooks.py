"""The few calls the service makes into labelsieve.quality (kept here so service modules change by lines)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from labelsieve.quality.pruning import exclude
from labelsieve.quality.store import load_scorecard
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope

T = TypeVar("T")


def after_publish(publisher: Callable[[int, str], None] | None,
                  then: Callable[[int, str], None]) -> Callable[[int, str], None]:
    """A loop publisher that pushes the ranking first and only then hands the version on (the quality pass)."""

    def publish(project_id: int, version: str) -> None:
        try:
            if publisher is not None:
                publisher(project_id, version)
        finally:
            then(project_id, version)

    return publish


def latest_scorecard_rows(artifacts: ArtifactStore, engine: Engine, project_id: int) -> list[Any]:
    """Rows of the newest version that has a scorecard (the serving one's may still be computing)."""
    with session_scope(engine) as session:
        versions = [v.version for v in crud.list_model_versions(session=session, project_id=project_id)
                    if v.status == "ready"]
    for version in reversed(versions):
        rows, meta = load_scorecard(artifacts, project_id, version)
        if meta:
            return rows
    return []


def training_examples(artifacts: ArtifactStore, engine: Engine, project_id: int, prune: str,
                      examples: list[tuple[T, Any]]) -> tuple[list[tuple[T, Any]], list[int]]:
    """``prune="flagged"``: the labelled examples minus those the latest scorecard marks prune."""
    if prune != "flagged":
        return examples, []
    return exclude(examples, latest_scorecard_rows(artifacts, engine, project_id))


def tracker_for(engine: Engine, tracking_uri: str | None, experiment: str) -> Any:
    """An MLflow tracker when a tracking URI is configured, else None. mlflow is an optional extra, imported
    only here and only when configured, so a service without it never loads it."""
    if not tracking_uri:
        return None
    from labelsieve.quality.tracking import MlflowTracker

    return MlflowTracker(engine=engine, tracking_uri=tracking_uri, experiment=experiment)
