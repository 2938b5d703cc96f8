"""Keyword-only storage functions. Callers own the session; these functions never commit
except where the name says so (``*_commit``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from labelsieve.labelconfig import LabelConfig, labels_from_result
from labelsieve.storage.models import (
    Annotation,
    ModelVersion,
    Prediction,
    Project,
    QueryRound,
    Task,
    WebhookEvent,
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


def count_tasks(*, session: Session, project_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Task).where(Task.project_id == project_id)).one())


def task_ids(*, session: Session, project_id: int) -> set[int]:
    return {int(t) for t in session.exec(select(Task.id).where(Task.project_id == project_id))}


def max_task_id(*, session: Session, project_id: int) -> int:
    """The highest task id labelsieve knows in the project (Label Studio's ids only grow); 0 if none."""
    return int(session.exec(select(func.max(Task.id)).where(Task.project_id == project_id)).one() or 0)


def delete_tasks(*, session: Session, project_id: int, task_ids: Sequence[int]) -> int:
    """Forget tasks deleted in Label Studio, with their annotations and stored predictions."""
    if not task_ids:
        return 0
    ids = list(task_ids)
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
    if not annotation_ids:
        return 0
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
                     usable: Callable[[Annotation], bool] | None = None) -> list[tuple[Task, Annotation]]:
    """One (task, annotation) per labelled task: the newest usable annotation wins.

    Cancelled (skipped) annotations and annotations without any of our choices are ignored (``usable``: the
    project's task type decides instead, e.g. from ``Annotation.result`` for spans or boxes);
    a ground-truth annotation beats any other on the same task.
    """
    best: dict[int, Annotation] = {}
    for ann in list_annotations(session=session, project_id=project_id):
        if ann.was_cancelled or not (usable(ann) if usable is not None else ann.labels):
            continue
        current = best.get(ann.task_id)
        if current is None or (ann.ground_truth, ann.updated_at, ann.id) >= (
            current.ground_truth, current.updated_at, current.id
        ):
            best[ann.task_id] = ann
    tasks = get_tasks(session=session, task_ids=list(best))
    return [(tasks[tid], best[tid]) for tid in sorted(best) if tid in tasks]


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


# ----------------------------------------------------------------------------------- inbox


def add_event(*, session: Session, project_id: int, action: str, payload: dict[str, Any]) -> WebhookEvent:
    row = WebhookEvent(project_id=project_id, action=action, payload=payload)
    session.add(row)
    session.flush()
    return row


def pending_events(*, session: Session, project_id: int | None = None, limit: int = 500) -> list[WebhookEvent]:
    stmt = select(WebhookEvent).where(col(WebhookEvent.processed_at).is_(None))
    if project_id is not None:
        stmt = stmt.where(WebhookEvent.project_id == project_id)
    return list(session.exec(stmt.order_by(col(WebhookEvent.id)).limit(limit)))


def count_pending_events(*, session: Session) -> int:
    stmt = select(func.count()).select_from(WebhookEvent).where(col(WebhookEvent.processed_at).is_(None))
    return int(session.exec(stmt).one())


def projects_with_pending_events(*, session: Session) -> list[int]:
    stmt = select(WebhookEvent.project_id).where(col(WebhookEvent.processed_at).is_(None)).distinct()
    return [int(pid) for pid in session.exec(stmt)]


def mark_event_processed(*, session: Session, event: WebhookEvent, error: str | None = None) -> None:
    event.processed_at = utcnow()
    event.error = error
    session.add(event)
