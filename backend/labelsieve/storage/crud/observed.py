"""Observer mode's read state as rows: one per observing project, one per observed task (keyword-only; callers own
the session). A round writes its project row and only the task rows its read changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from labelsieve.storage.crud.projects import dialect_insert
from labelsieve.storage.models import ObservedProject, ObservedTask, utcnow

BATCH = 5000  # rows per statement (SQLite bounds the parameters of one statement)


def get_observed_project(*, session: Session, project_id: int) -> ObservedProject | None:
    return session.get(ObservedProject, project_id)


def observed_tasks(*, session: Session, project_id: int) -> dict[int, tuple[bool, dict[str, Any]]]:
    """Every observed task of the project: ``{task id: (labelled, versions)}``."""
    stmt = select(ObservedTask.task_id, ObservedTask.labeled, ObservedTask.versions).where(
        ObservedTask.project_id == project_id)
    return {int(task_id): (bool(labeled), dict(versions)) for task_id, labeled, versions in session.exec(stmt)}


def save_observed_project(*, session: Session, project_id: int, **values: Any) -> None:
    """Insert or update the project's row (``max_id``, ``watermark``, ``settled``, ``round``, ``pushed_key``,
    ``status``: the ones given)."""
    row = session.get(ObservedProject, project_id) or ObservedProject(project_id=project_id)
    for name, value in values.items():
        if name not in ObservedProject.model_fields or name in ("project_id", "updated_at"):
            raise ValueError(f"ObservedProject has no field {name!r}")
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def save_observed_tasks(*, session: Session, project_id: int, changed: Mapping[int, tuple[bool, dict[str, Any]]],
                        removed: Iterable[int] = ()) -> int:
    """Write the tasks whose entry changed (``{task id: (labelled, versions)}``) and delete the ``removed`` ones;
    the rows written or deleted."""
    gone = [int(t) for t in removed]
    for start in range(0, len(gone), BATCH):
        session.execute(delete(ObservedTask).where(col(ObservedTask.project_id) == project_id,
                                                   col(ObservedTask.task_id).in_(gone[start:start + BATCH])))
    ids = [int(t) for t in changed]
    for start in range(0, len(ids), BATCH):
        part = ids[start:start + BATCH]
        # one statement per batch whatever the dialect: delete then insert (the rows are whole values)
        session.execute(delete(ObservedTask).where(col(ObservedTask.project_id) == project_id,
                                                   col(ObservedTask.task_id).in_(part)))
        session.execute(dialect_insert(session).insert(ObservedTask), [
            {"project_id": project_id, "task_id": t, "labeled": bool(changed[t][0]), "versions": changed[t][1]}
            for t in part])
    session.flush()
    return len(gone) + len(ids)

