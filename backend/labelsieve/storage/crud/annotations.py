"""Annotations, the labelled examples they make, and the pool of unlabelled tasks (keyword-only functions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, String, cast, delete, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from labelsieve.labelconfig import LabelConfig, labels_from_result
from labelsieve.storage.crud.rejected import delete_rejected_regions
from labelsieve.storage.models import (
    Annotation,
    Task,
    utcnow,
)

# ------------------------------------------------------------------------------ annotations


def _annotation_labels(result: list[dict[str, Any]], config: Any) -> list[str]:
    """The labels an annotation gives: the config's own reading when it has one (region task types: the labels
    of its regions, or ``NO_REGION``), else our control's choices."""
    if config is None:
        return []
    reader = getattr(config, "annotation_labels", None)
    return list(reader(result)) if callable(reader) else labels_from_result(result, config)


def annotation_columns(*, annotation: dict[str, Any], config: LabelConfig | None) -> dict[str, Any]:
    """The :class:`Annotation` columns a Label Studio annotation dict (``id``, ``task``, ``result``...) sets."""
    task_field = annotation.get("task")
    result = list(annotation.get("result") or [])
    completed_by = annotation.get("completed_by")
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    lead_time = annotation.get("lead_time")
    return {
        "id": int(annotation["id"]),
        "task_id": int(task_field["id"] if isinstance(task_field, dict) else task_field),  # type: ignore[arg-type]
        "result": result,
        "labels": _annotation_labels(result, config),
        "annotator": int(completed_by) if completed_by is not None else None,
        "lead_time": float(lead_time) if lead_time is not None else None,
        "was_cancelled": bool(annotation.get("was_cancelled", False)),
        "ground_truth": bool(annotation.get("ground_truth", False)),
    }


def upsert_annotation(
    *, session: Session, project_id: int, annotation: dict[str, Any], config: LabelConfig | None
) -> Annotation:
    """Store one Label Studio annotation dict (``id``, ``task``, ``result``, ...)."""
    columns = annotation_columns(annotation=annotation, config=config)
    row = session.get(Annotation, columns["id"])
    if row is None:
        row = Annotation(id=columns["id"], project_id=project_id, task_id=columns["task_id"])
    for name, value in columns.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def delete_annotations(*, session: Session, annotation_ids: Sequence[int]) -> int:
    """Delete annotations (with their refused regions); the number of annotations that existed."""
    if not annotation_ids:
        return 0
    delete_rejected_regions(session=session, annotation_ids=annotation_ids)
    result = session.execute(delete(Annotation).where(col(Annotation.id).in_(list(annotation_ids))))
    return int(result.rowcount or 0)


def annotation_ids_of_tasks(*, session: Session, task_ids: Sequence[int]) -> set[int]:
    """Ids of the annotations stored for these tasks."""
    if not task_ids:
        return set()
    stmt = select(Annotation.id).where(col(Annotation.task_id).in_(list(task_ids)))
    return {int(i) for i in session.exec(stmt)}


def list_annotations(*, session: Session, project_id: int) -> list[Annotation]:
    stmt = select(Annotation).where(Annotation.project_id == project_id).order_by(col(Annotation.id))
    return list(session.exec(stmt))


def count_annotations(*, session: Session, project_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(Annotation)
    if project_id is not None:
        stmt = stmt.where(Annotation.project_id == project_id)
    return int(session.exec(stmt).one())


def labeled_examples(*, session: Session, project_id: int,
                     usable: Callable[[Any], bool] | None = None) -> list[tuple[Row[Any], Row[Any]]]:
    """One (task, annotation) per labelled task, in task-id order: the newest usable annotation wins.

    Cancelled (skipped) annotations and annotations without any of our choices are ignored (``usable``: the
    project's task type decides instead, e.g. from ``result`` for spans or boxes);
    a ground-truth annotation beats any other on the same task.

    Task and annotation are read-only rows with every column of :class:`Task` and :class:`Annotation` as an
    attribute (``task.data``, ``annotation.labels``...), read as plain rows in two queries: every retrain,
    cross-validation and status read starts here, and ORM objects cost several times the read at 10 000 labels.
    """
    best = _best_annotations(session, project_id, usable)
    tasks = Task.__table__  # type: ignore[attr-defined]
    return [(task, best[task.id]) for task in _stored_labelled_tasks(session, project_id, best, tasks)]


def labeled_annotations(*, session: Session, project_id: int,
                        usable: Callable[[Any], bool] | None = None) -> list[Row[Any]]:
    """The annotations of :func:`labeled_examples` without their tasks' data (the status's class counts)."""
    best = _best_annotations(session, project_id, usable)
    tasks = Task.__table__  # type: ignore[attr-defined]
    return [best[task.id] for task in _stored_labelled_tasks(session, project_id, best, tasks.c.id)]


def _stored_labelled_tasks(session: Session, project_id: int, best: dict[int, Row[Any]], *columns: Any) -> list[Any]:
    """``columns`` of the stored tasks that ``best`` labels, in task-id order (a sub-select of the project's
    uncancelled annotations, not a list of ids)."""
    if not best:
        return []
    tasks, annotations = Task.__table__, Annotation.__table__  # type: ignore[attr-defined]
    labelled = sa_select(annotations.c.task_id).where(annotations.c.project_id == project_id,
                                                      annotations.c.was_cancelled.is_(False))
    rows = session.execute(sa_select(*columns).where(tasks.c.id.in_(labelled)).order_by(tasks.c.id))
    return [row for row in rows if row.id in best]


def _best_annotations(session: Session, project_id: int, usable: Callable[[Any], bool] | None) -> dict[int, Row[Any]]:
    """Task id -> the annotation that labels it (see :func:`labeled_examples`), tasks stored or not."""
    annotations = Annotation.__table__  # type: ignore[attr-defined]
    kept = sa_select(annotations).where(annotations.c.project_id == project_id,
                                        annotations.c.was_cancelled.is_(False))
    best: dict[int, Row[Any]] = {}
    for ann in session.execute(kept.order_by(annotations.c.id)):
        if not (usable(ann) if usable is not None else ann.labels):
            continue
        current = best.get(ann.task_id)
        if current is None or (ann.ground_truth, ann.updated_at, ann.id) >= (
            current.ground_truth, current.updated_at, current.id
        ):
            best[ann.task_id] = ann
    return best


def pool_tasks(*, session: Session, project_id: int) -> list[Task]:
    """Tasks with no usable annotation (what the query strategy ranks)."""
    labeled = select(Annotation.task_id).where(
        Annotation.project_id == project_id, col(Annotation.was_cancelled).is_(False)
    )
    stmt = (
        select(Task)
        .where(Task.project_id == project_id, col(Task.id).not_in(labeled))
        .order_by(col(Task.id))
    )
    return list(session.exec(stmt))


_STAMP = cast(Task.updated_at, String)


def pool_task_stamps(*, session: Session, project_id: int) -> list[tuple[int, str]]:
    """(id, updated_at as text) of each pool task, id order: :func:`pool_tasks` without the data.

    The stamp changes whenever the task's data does (:func:`upsert_tasks`); it is read as text, which
    is all a cache check needs and half the cost of parsing a datetime per row."""
    labeled = select(Annotation.task_id).where(
        Annotation.project_id == project_id, col(Annotation.was_cancelled).is_(False)
    )
    stmt = (
        sa_select(Task.id, _STAMP)
        .where(col(Task.project_id) == project_id, col(Task.id).not_in(labeled))
        .order_by(col(Task.id))
    )
    return [(int(task_id), str(stamp)) for task_id, stamp in session.execute(stmt)]


def task_stamps(*, session: Session, task_ids: Sequence[int]) -> dict[int, str]:
    """The stamps :func:`pool_task_stamps` reads, for given tasks."""
    ids, out = list(task_ids), {}
    for start in range(0, len(ids), 5000):
        stmt = sa_select(Task.id, _STAMP).where(col(Task.id).in_(ids[start:start + 5000]))
        out.update({int(task_id): str(stamp) for task_id, stamp in session.execute(stmt)})
    return out


def unavailable_task_ids(*, session: Session, project_id: int, task_ids: Sequence[int]) -> set[int]:
    """Those of ``task_ids`` no longer in the pool: annotated (not cancelled) or not a task of the project."""
    ids = list(task_ids)
    if not ids:
        return set()
    known = set(session.exec(select(Task.id).where(Task.project_id == project_id, col(Task.id).in_(ids))))
    labeled = set(session.exec(select(Annotation.task_id).where(
        Annotation.project_id == project_id, col(Annotation.was_cancelled).is_(False),
        col(Annotation.task_id).in_(ids),
    )))
    return {i for i in ids if i not in known or i in labeled}
