"""Set-based writes for the webhook inbox: many annotations or events per statement (keyword-only).

Callers own the session, as in :mod:`labelsieve.storage.crud`; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import case, update
from sqlmodel import Session, col

from labelsieve.storage.crud import dialect_insert
from labelsieve.storage.models import Annotation, WebhookEvent, utcnow

#: columns a new webhook for an existing annotation overwrites (never its id, project or creation time)
_OVERWRITTEN = ("task_id", "result", "labels", "annotator", "lead_time", "was_cancelled", "ground_truth",
                "updated_at")


def upsert_annotations(*, session: Session, project_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """INSERT ... ON CONFLICT (id) DO UPDATE for rows of :func:`crud.annotation_columns` plus
    ``predicted_labels``/``predicted_version``, which only fill a row that has no prediction yet
    (what the serving model predicted when the label first came stays the prequential record)."""
    if not rows:
        return 0
    now = utcnow()
    table = Annotation.__table__  # type: ignore[attr-defined]
    unset = table.c.predicted_version.is_(None)
    stmt = dialect_insert(session).insert(table)
    fresh = stmt.excluded
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
        **{name: fresh[name] for name in _OVERWRITTEN},
        "predicted_labels": case((unset, fresh.predicted_labels), else_=table.c.predicted_labels),
        "predicted_version": case((unset, fresh.predicted_version), else_=table.c.predicted_version),
    })
    # one cached statement, many parameter sets: SQLAlchemy batches them into multi-row INSERTs
    session.execute(stmt, [dict(row, project_id=project_id, created_at=now, updated_at=now) for row in rows])
    return len(rows)


def mark_events_processed(*, session: Session, event_ids: Sequence[int], errors: Mapping[int, str]) -> None:
    """Mark inbox rows processed: one UPDATE for the clean ones, one per event with an error."""
    now = utcnow()
    clean = [event_id for event_id in event_ids if event_id not in errors]
    for start in range(0, len(clean), 5000):
        session.execute(update(WebhookEvent).where(col(WebhookEvent.id).in_(clean[start:start + 5000]))
                        .values(processed_at=now, error=None))
    for event_id, error in errors.items():
        session.execute(update(WebhookEvent).where(col(WebhookEvent.id) == event_id)
                        .values(processed_at=now, error=error))
