"""Regions of stored annotations their task type refuses, with the reason (keyword-only; callers own the session)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from labelsieve.storage.models import RejectedRegion, utcnow


def replace_rejected_regions(*, session: Session, project_id: int,
                             by_annotation: Mapping[int, tuple[int, Sequence[tuple[str, str]]]]) -> int:
    """Record each annotation's refused regions, ``{annotation id: (task id, [(region, reason), ...])}``, in place
    of what was recorded for it before (an empty list clears it). Returns how many regions are recorded."""
    if not by_annotation:
        return 0
    ids = list(by_annotation)
    recorded = select(RejectedRegion.id).where(RejectedRegion.project_id == project_id).limit(1)
    if session.exec(recorded).first() is not None:  # most projects have none: skip the deletes' long IN lists
        for start in range(0, len(ids), 5000):
            session.execute(delete(RejectedRegion).where(
                col(RejectedRegion.annotation_id).in_(ids[start:start + 5000])))
    now = utcnow()
    rows = [RejectedRegion(project_id=project_id, annotation_id=ann_id, task_id=task_id, region=region,
                           reason=reason, created_at=now)
            for ann_id, (task_id, regions) in by_annotation.items() for region, reason in regions]
    session.add_all(rows)
    session.flush()
    return len(rows)


def delete_rejected_regions(*, session: Session, annotation_ids: Sequence[int]) -> None:
    ids = list(annotation_ids)
    for start in range(0, len(ids), 5000):
        session.execute(delete(RejectedRegion).where(col(RejectedRegion.annotation_id).in_(ids[start:start + 5000])))


def count_rejected_regions(*, session: Session, project_id: int) -> int:
    stmt = select(func.count()).select_from(RejectedRegion).where(RejectedRegion.project_id == project_id)
    return int(session.exec(stmt).one())


def latest_rejected_regions(*, session: Session, project_id: int, limit: int = 5) -> list[RejectedRegion]:
    """The project's most recently recorded refused regions, newest first."""
    stmt = (select(RejectedRegion).where(RejectedRegion.project_id == project_id)
            .order_by(col(RejectedRegion.id).desc()).limit(limit))
    return list(session.exec(stmt))
