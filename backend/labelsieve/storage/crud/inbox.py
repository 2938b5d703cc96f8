"""The webhook inbox: events stored before they are applied. Keyword-only; callers own the session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from labelsieve.storage.models import (
    WebhookEvent,
    utcnow,
)

# ----------------------------------------------------------------------------------- inbox


def add_event(*, session: Session, project_id: int, action: str, payload: dict[str, Any],
              flush: bool = True) -> WebhookEvent:
    """Add an inbox row; ``flush=False`` leaves the insert (and the id) to the caller's one flush of many rows."""
    row = WebhookEvent(project_id=project_id, action=action, payload=payload)
    session.add(row)
    if flush:
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
