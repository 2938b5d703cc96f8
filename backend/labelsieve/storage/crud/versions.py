"""Model versions, their stored predictions and the query rounds that ranked with them (keyword-only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, col, select

from labelsieve.storage.models import (
    ModelVersion,
    Prediction,
    Project,
    QueryRound,
    utcnow,
)

# ---------------------------------------------------------------------------- model versions


def next_version_number(*, session: Session, project_id: int) -> int:
    stmt = select(func.max(ModelVersion.number)).where(ModelVersion.project_id == project_id)
    current = session.exec(stmt).one()
    return int(current or 0) + 1


def add_model_version(*, session: Session, row: ModelVersion) -> ModelVersion:
    session.add(row)
    session.flush()
    return row


def latest_ready_version(*, session: Session, project_id: int) -> ModelVersion | None:
    stmt = (
        select(ModelVersion)
        .where(ModelVersion.project_id == project_id, ModelVersion.status == "ready")
        .order_by(col(ModelVersion.number).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def list_model_versions(*, session: Session, project_id: int) -> list[ModelVersion]:
    stmt = select(ModelVersion).where(ModelVersion.project_id == project_id).order_by(
        col(ModelVersion.number)
    )
    return list(session.exec(stmt))


def get_model_version(*, session: Session, project_id: int, version: str) -> ModelVersion | None:
    stmt = select(ModelVersion).where(ModelVersion.project_id == project_id, ModelVersion.version == version)
    return session.exec(stmt).first()


def set_serving_version(*, session: Session, project_id: int, version: str) -> None:
    session.execute(
        update(Project).where(col(Project.id) == project_id).values(model_version=version, updated_at=utcnow())
    )


# ------------------------------------------------------------------------------- predictions


def save_predictions(*, session: Session, rows: Sequence[dict[str, Any]], chunk: int = 5000) -> int:
    """Bulk insert prediction dicts (columns of :class:`Prediction`)."""
    now = utcnow()
    for start in range(0, len(rows), chunk):
        part = [dict(row, created_at=now) for row in rows[start:start + chunk]]
        session.execute(insert(Prediction), part)
    return len(rows)


def prune_predictions(*, session: Session, project_id: int, keep_versions: Sequence[str]) -> int:
    stmt = delete(Prediction).where(
        col(Prediction.project_id) == project_id, col(Prediction.model_version).not_in(list(keep_versions))
    )
    return int(session.execute(stmt).rowcount or 0)


def get_predictions(
    *, session: Session, model_version: str, task_ids: Sequence[int]
) -> dict[int, Prediction]:
    out: dict[int, Prediction] = {}
    ids = list(task_ids)
    for start in range(0, len(ids), 5000):
        stmt = select(Prediction).where(
            Prediction.model_version == model_version, col(Prediction.task_id).in_(ids[start:start + 5000])
        )
        out.update({row.task_id: row for row in session.exec(stmt)})
    return out


def ranked_predictions(*, session: Session, project_id: int, model_version: str) -> list[Prediction]:
    stmt = (
        select(Prediction)
        .where(Prediction.project_id == project_id, Prediction.model_version == model_version)
        .order_by(col(Prediction.score))
    )
    return list(session.exec(stmt))


# ---------------------------------------------------------------------------- query rounds


def add_query_round(*, session: Session, row: QueryRound) -> QueryRound:
    session.add(row)
    session.flush()
    return row


def list_query_rounds(*, session: Session, project_id: int) -> list[QueryRound]:
    stmt = select(QueryRound).where(QueryRound.project_id == project_id).order_by(col(QueryRound.id))
    return list(session.exec(stmt))
