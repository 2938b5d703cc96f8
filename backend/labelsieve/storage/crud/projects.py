"""Projects and their tasks. Keyword-only; callers own the session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from labelsieve.storage.models import (
    Annotation,
    Prediction,
    Project,
    RejectedRegion,
    Task,
    utcnow,
)

# --------------------------------------------------------------------------------- projects


def get_project(*, session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def upsert_project(
    *,
    session: Session,
    project_id: int,
    label_config: str | None = None,
    title: str | None = None,
    settings: dict[str, Any] | None = None,
    hostname: str | None = None,
    access_token: str | None = None,
) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        # INSERT ... ON CONFLICT DO NOTHING: two /setup calls for a new project at once (Label Studio retries
        # a slow /setup) must not fail on the primary key; the loser updates the winner's row.
        blank = Project(id=project_id).model_dump()
        session.execute(dialect_insert(session).insert(Project).values(**blank)
                        .on_conflict_do_nothing(index_elements=["id"]))
        project = session.get(Project, project_id, populate_existing=True)
        assert project is not None
    if label_config is not None:
        project.label_config = label_config
    if title is not None:
        project.title = title
    if settings is not None:
        project.settings = dict(settings)
    if hostname:
        project.ls_hostname = hostname
    if access_token:
        project.ls_access_token = access_token
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
    return project


def dialect_insert(session: Session) -> Any:
    """The dialect module whose ``insert`` has ``on_conflict_do_nothing``."""
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def add_annotations_since_train(*, session: Session, project_id: int, count: int) -> None:
    """Count ``count`` stored or deleted annotations toward the project's next retrain (``retrain_every``)."""
    if count:
        session.execute(update(Project).where(col(Project.id) == project_id).values(
            annotations_since_train=Project.annotations_since_train + count))


def subtract_trained_annotations(*, session: Session, project_id: int, count: int) -> None:
    """A retrain consumed ``count`` of the counted annotations; those counted meanwhile stay for the next one."""
    if count:
        session.execute(update(Project).where(col(Project.id) == project_id).values(
            annotations_since_train=Project.annotations_since_train - count))


def list_projects(*, session: Session) -> list[Project]:
    return list(session.exec(select(Project).order_by(col(Project.id))))


# ------------------------------------------------------------------------------------ tasks


def upsert_tasks(*, session: Session, project_id: int, tasks: Iterable[dict[str, Any]]) -> int:
    """Insert or update tasks given as Label Studio task dicts (``id`` and ``data``).

    New rows go in with INSERT ... ON CONFLICT DO NOTHING, so two requests adding the same task at
    once (a /predict racing the webhook worker) cannot fail on the primary key."""
    wanted: dict[int, dict[str, Any]] = {}
    for task in tasks:
        wanted[int(task["id"])] = dict(task.get("data") or {})
    if not wanted:
        return 0
    session.flush()
    existing = get_tasks(session=session, task_ids=list(wanted))
    now = utcnow()
    new = [{"id": i, "project_id": project_id, "data": data, "created_at": now, "updated_at": now}
           for i, data in wanted.items() if i not in existing]
    if new:  # one cached statement, many parameter sets (SQLAlchemy batches them into multi-row INSERTs)
        session.execute(dialect_insert(session).insert(Task).on_conflict_do_nothing(index_elements=["id"]), new)
    for task_id, row in existing.items():
        data = wanted[task_id]
        if data and row.data != data:
            row.data = data
            row.updated_at = now
            session.add(row)
    session.flush()
    return len(wanted)


def get_tasks(*, session: Session, task_ids: Sequence[int]) -> dict[int, Task]:
    if not task_ids:
        return {}
    rows = session.exec(select(Task).where(col(Task.id).in_(list(task_ids))))
    return {row.id: row for row in rows}


def task_data(*, session: Session, task_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Task id -> data, read as plain rows (a round reads the data of every pool task it has not cached)."""
    ids, out = list(task_ids), {}
    for start in range(0, len(ids), 5000):
        stmt = sa_select(Task.id, Task.data).where(col(Task.id).in_(ids[start:start + 5000]))
        out.update({int(task_id): data for task_id, data in session.execute(stmt)})
    return out


def count_tasks(*, session: Session, project_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Task).where(Task.project_id == project_id)).one())


def task_ids(*, session: Session, project_id: int) -> set[int]:
    return {int(t) for t in session.exec(select(Task.id).where(Task.project_id == project_id))}


def max_task_id(*, session: Session, project_id: int) -> int:
    """The highest task id labelsieve knows in the project (Label Studio's ids only grow); 0 if none."""
    return int(session.exec(select(func.max(Task.id)).where(Task.project_id == project_id)).one() or 0)


def delete_tasks(*, session: Session, project_id: int, task_ids: Sequence[int]) -> int:
    """Forget tasks deleted in Label Studio, with their annotations (and refused regions) and stored predictions."""
    if not task_ids:
        return 0
    ids = list(task_ids)
    session.execute(delete(RejectedRegion).where(RejectedRegion.project_id == project_id,
                                                 col(RejectedRegion.task_id).in_(ids)))
    session.execute(delete(Annotation).where(Annotation.project_id == project_id, col(Annotation.task_id).in_(ids)))
    session.execute(delete(Prediction).where(Prediction.project_id == project_id, col(Prediction.task_id).in_(ids)))
    result = session.execute(delete(Task).where(Task.project_id == project_id, col(Task.id).in_(ids)))
    return int(result.rowcount or 0)


def annotated_task_ids(*, session: Session, project_id: int, task_ids: Sequence[int]) -> set[int]:
    """Those of ``task_ids`` with any annotation (skips included: Label Studio no longer serves them first)."""
    if not task_ids:
        return set()
    stmt = select(Annotation.task_id).where(Annotation.project_id == project_id,
                                            col(Annotation.task_id).in_(list(task_ids)))
    return {int(t) for t in session.exec(stmt)}
