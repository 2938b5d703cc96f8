"""What a project page shows, read from labelsieve's own database in a few bounded queries.

Nothing here calls Label Studio. Every query is filtered by the project's id, so a page never shows
another project's rows. The pool is never loaded whole: the queue is the head of the serving
version's ranking, and the page fingerprint is a handful of SQL aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from labelsieve.quality.confusion import confusion_summary
from labelsieve.report.estimates import audited_tasks
from labelsieve.report.prequential import live_report
from labelsieve.storage import crud, rankings
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Annotation, ModelVersion, Project, QueryRound, Task, WebhookEvent

QUEUE_LENGTH = 12


@dataclass
class QueueItem:
    rank: int
    task_id: int
    score: float
    utility: float | None
    predicted: str
    confidence: float
    audit: bool
    data: dict[str, Any]


@dataclass
class ProjectView:
    """Everything but the plots and the diagnosis (those come from :mod:`labelsieve.pages.diagnosis`)."""

    project: Project
    n_tasks: int
    n_annotations: int
    versions: list[ModelVersion]
    rounds: list[QueryRound]
    report: dict[str, Any]
    queue: list[QueueItem] = field(default_factory=list)
    labelled_ids: set[int] = field(default_factory=set)
    pending_events: int = 0
    failed_events: list[WebhookEvent] = field(default_factory=list)
    #: the random audit items' labels against what the serving model predicted for them (None: no audit yet)
    audit_confusion: dict[str, Any] | None = None

    @property
    def last_round(self) -> QueryRound | None:
        serving = self.project.model_version
        matching = [r for r in self.rounds if r.model_version == serving]
        return matching[-1] if matching else (self.rounds[-1] if self.rounds else None)

    @property
    def ready_versions(self) -> list[ModelVersion]:
        return [v for v in self.versions if v.status == "ready"]


def fingerprint(engine: Engine, project_id: int) -> tuple[Any, ...]:
    """Changes whenever anything the page shows changes; five aggregate queries, no row is loaded."""
    with session_scope(engine) as session:
        project = session.get(Project, project_id)
        if project is None:
            return ()
        annotations = session.exec(select(func.count(), func.max(Annotation.updated_at)).where(
            Annotation.project_id == project_id)).one()
        versions = session.exec(select(func.count(), func.max(ModelVersion.number)).where(
            ModelVersion.project_id == project_id)).one()
        events = session.exec(select(func.count(), func.max(WebhookEvent.id)).where(
            WebhookEvent.project_id == project_id, col(WebhookEvent.processed_at).is_(None))).one()
        tasks = crud.count_tasks(session=session, project_id=project_id)
        return (project.model_version, project.updated_at, project.annotations_since_train, tuple(annotations),
                tuple(versions), tuple(events), tasks)


def queue_head(session: Session, project: Project, labelled: set[int], audit: set[int],
               length: int = QUEUE_LENGTH) -> list[QueueItem]:
    """The next tasks Label Studio serves: lowest scores of the serving version, minus tasks labelled since."""
    if not project.model_version:
        return []
    rows = rankings.head(session=session, project_id=project.id, version=project.model_version, k=length)
    rows = [p for p in rows if p.task_id not in labelled][:length]
    tasks = crud.get_tasks(session=session, task_ids=[p.task_id for p in rows])
    return [QueueItem(rank=int(p.rank if p.rank is not None else k), task_id=p.task_id, score=p.score,
                      utility=p.utility, predicted=p.labels[0] if p.labels else "", confidence=p.confidence,
                      audit=p.task_id in audit, data=tasks[p.task_id].data if p.task_id in tasks else {})
            for k, p in enumerate(rows)]


def collect(engine: Engine, project_id: int) -> ProjectView | None:
    with session_scope(engine) as session:
        project = crud.get_project(session=session, project_id=project_id)
        if project is None:
            return None
        annotations = crud.list_annotations(session=session, project_id=project_id)
        versions = crud.list_model_versions(session=session, project_id=project_id)
        rounds = crud.list_query_rounds(session=session, project_id=project_id)
        labelled = {a.task_id for a in annotations if not a.was_cancelled}
        serving = [r for r in rounds if r.model_version == project.model_version]
        audit = set(serving[-1].audit) if serving else set()
        queue = queue_head(session, project, labelled, audit)
        failed = list(session.exec(select(WebhookEvent).where(
            WebhookEvent.project_id == project_id, col(WebhookEvent.error).is_not(None))
            .order_by(col(WebhookEvent.id).desc()).limit(5)))
        view = ProjectView(
            project=project, n_tasks=crud.count_tasks(session=session, project_id=project_id),
            n_annotations=len(annotations), versions=versions, rounds=rounds,
            report=live_report(annotations, versions, rounds=rounds), queue=queue, labelled_ids=labelled,
            pending_events=len(crud.pending_events(session=session, project_id=project_id)),
            failed_events=failed, audit_confusion=audit_confusion(annotations, rounds),
        )
        session.expunge_all()
    return view


def audit_confusion(annotations: list[Annotation], rounds: list[QueryRound]) -> dict[str, Any] | None:
    """Confusion matrix of the audited items only (uniform random draws: an unbiased sample), prequential."""
    audits = {v: ids for v, ids in audited_tasks(rounds).items() if ids}
    pairs = [(a.labels[0], a.predicted_labels[0]) for a in annotations
             if a.predicted_version in audits and a.task_id in (audits[a.predicted_version] or set())
             and a.labels and a.predicted_labels and not a.was_cancelled]
    return confusion_summary([t for t, _ in pairs], [p for _, p in pairs]) if pairs else None


def project_summaries(engine: Engine) -> list[dict[str, Any]]:
    """One row per project for the index page (counts by SQL, no annotation rows loaded)."""
    with session_scope(engine) as session:
        projects = crud.list_projects(session=session)
        tasks = dict(session.exec(select(Task.project_id, func.count()).group_by(Task.project_id)).all())
        labelled = dict(session.exec(
            select(Annotation.project_id, func.count(func.distinct(Annotation.task_id)))
            .where(col(Annotation.was_cancelled).is_(False)).group_by(Annotation.project_id)).all())
        versions = dict(session.exec(
            select(ModelVersion.project_id, func.count()).where(ModelVersion.status == "ready")
            .group_by(ModelVersion.project_id)).all())
        return [{"id": p.id, "title": p.title, "model_version": p.model_version or None,
                 "tasks": int(tasks.get(p.id, 0)), "labelled": int(labelled.get(p.id, 0)),
                 "versions": int(versions.get(p.id, 0)), "updated_at": p.updated_at} for p in projects]
