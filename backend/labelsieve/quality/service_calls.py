"""The few calls the service makes into labelsieve.quality (kept here so service modules change by lines)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from labelsieve.quality.pruning import exclude, keep_top
from labelsieve.quality.scorecard_files import load_scorecard
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.artifacts import ArtifactStore
from labelsieve.storage.db import session_scope

T = TypeVar("T")


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


def training_examples(artifacts: ArtifactStore, engine: Engine, project_id: int, prune: str | dict[str, Any],
                      examples: list[tuple[T, Any]]) -> tuple[list[tuple[T, Any]], list[int], dict[str, Any] | None]:
    """(examples to train on, annotation ids left out, the rule as applied or None): ``prune="flagged"`` drops
    what the latest scorecard marks prune, ``{"keep_top": share}`` keeps that share of its items by value."""
    if isinstance(prune, dict):
        rows = latest_scorecard_rows(artifacts, engine, project_id)
        if not rows:
            return examples, [], {"keep_top": prune["keep_top"], "scored": 0, "note": "no scorecard yet: all kept"}
        return keep_top(examples, rows, float(prune["keep_top"]))
    if prune != "flagged":
        return examples, [], None
    kept, left_out = exclude(examples, latest_scorecard_rows(artifacts, engine, project_id))
    return kept, left_out, {"flagged": len(left_out)}


def tracker_for(engine: Engine, settings: Settings) -> Any:
    """An MLflow tracker when a tracking URI is configured, else None. mlflow is an optional extra, imported
    only here and only when configured, so a service without it never loads it. Artifacts go to
    ``mlflow_artifact_location`` or ``<data_dir>/mlflow-artifacts`` (a SQLite store would use the working directory)."""
    if not settings.mlflow_tracking_uri:
        return None
    from labelsieve.quality.tracking import MlflowTracker

    location = settings.mlflow_artifact_location or (settings.data_dir / "mlflow-artifacts").resolve().as_uri()
    return MlflowTracker(engine=engine, tracking_uri=settings.mlflow_tracking_uri,
                         experiment=settings.mlflow_experiment, artifact_location=location)
