"""Which projects have webhook events waiting on Label Studio, since when, and why.

The worker records a project here when applying its events meets :class:`RetryLater` (Label Studio
unreachable, the API key refused, a 5xx) and clears it once its events apply again. ``/health``,
``GET /projects/{id}``, ``/metrics`` and the log read it, so a stall is never silent: they name the
Label Studio URL that was tried and the setting that fixes it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from labelsieve.labelstudio.errors import KEY_REFUSED, SERVER_ERROR, RetryLater
from labelsieve.metrics import Metrics
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import WebhookEvent, utcnow

log = logging.getLogger(__name__)
#: a project still waiting is logged again (WARNING) at most this often
LOG_EVERY_SECONDS = 60.0
VERIFY_OFF = "LABELSIEVE_VERIFY_WEBHOOKS=false"


def fix_for(reason: str, url: str | None) -> str:
    """The setting a user changes for ``reason``, in one sentence."""
    where = f"Label Studio at {url}" if url else "Label Studio"
    if reason == KEY_REFUSED:
        return (f"{where} refused the API key: set LABEL_STUDIO_API_KEY to a valid token of a user of the project, "
                f"or set {VERIFY_OFF} to store webhooks as sent without re-reading them")
    if reason == SERVER_ERROR:
        return f"{where} answers with server errors: check its logs; the events apply once it answers again"
    return (f"{where} cannot be reached from this backend: set LABEL_STUDIO_URL to an address this backend can reach "
            f"(Label Studio sends its own idea of its address at /setup, e.g. http://localhost:8080 from inside "
            f"Docker), or set {VERIFY_OFF} to store webhooks as sent without re-reading them")


@dataclass
class Wait:
    """One project's wait: when it began, the latest error, the URL tried."""

    since: datetime
    reason: str
    url: str | None
    last_error: str
    last_error_at: datetime
    attempts: int = 1
    logged_at: float = 0.0

    @property
    def fix(self) -> str:
        return fix_for(self.reason, self.url)


@dataclass(frozen=True)
class Backlog:
    """Unapplied inbox events of one project (or of all, ``project_id=None``)."""

    events: int
    oldest: datetime | None


def backlog(engine: Engine, project_id: int | None = None) -> Backlog:
    query = select(func.count(), func.min(WebhookEvent.received_at)).where(col(WebhookEvent.processed_at).is_(None))
    if project_id is not None:
        query = query.where(col(WebhookEvent.project_id) == project_id)
    with session_scope(engine) as session:
        count, oldest = session.exec(query).one()
    return Backlog(events=int(count or 0), oldest=oldest)


class WaitBoard:
    """Thread-safe per-project wait state; updates the ``labelsieve_events_waiting`` gauge."""

    def __init__(self, *, engine: Engine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics
        self._lock = threading.Lock()
        self._waits: dict[int, Wait] = {}

    def record(self, project_id: int, exc: RetryLater) -> Wait:
        """Events of ``project_id`` wait on Label Studio because of ``exc``; logs a WARNING naming URL and fix."""
        now = utcnow()
        with self._lock:
            wait = self._waits.get(project_id)
            if wait is None:
                wait = Wait(since=now, reason=exc.reason, url=exc.url, last_error=str(exc), last_error_at=now)
                self._waits[project_id] = wait
            else:
                wait.reason, wait.url, wait.last_error, wait.last_error_at = exc.reason, exc.url, str(exc), now
                wait.attempts += 1
            due = time.monotonic() - wait.logged_at >= LOG_EVERY_SECONDS
            if due:
                wait.logged_at = time.monotonic()
        waiting = backlog(self.engine, project_id).events
        self.metrics.waiting_events.labels(str(project_id)).set(waiting)
        if due:
            log.warning("project %s: %d webhook event(s) wait on Label Studio (%s). Fix: %s. Retrying every few "
                        "seconds.", project_id, waiting, exc, wait.fix)
        return wait

    def clear(self, project_id: int) -> None:
        with self._lock:
            wait = self._waits.pop(project_id, None)
        if wait is not None:
            self.metrics.waiting_events.labels(str(project_id)).set(0)
            log.warning("project %s: Label Studio at %s answers again; the waiting events are applied (waited since "
                        "%s, %d attempt(s))", project_id, wait.url, wait.since.isoformat(), wait.attempts)

    def get(self, project_id: int) -> Wait | None:
        with self._lock:
            return self._waits.get(project_id)

    def waiting(self) -> dict[int, Wait]:
        with self._lock:
            return dict(self._waits)

    def refresh_gauge(self) -> None:
        for project_id in self.waiting():
            self.metrics.waiting_events.labels(str(project_id)).set(backlog(self.engine, project_id).events)

    def describe(self, project_id: int) -> dict[str, Any]:
        """What ``GET /projects/{id}`` shows: waiting events, the oldest wait, the last error and its fix."""
        wait = self.get(project_id)
        pending = backlog(self.engine, project_id)
        return {
            "state": "waiting_for_label_studio" if wait is not None else "ok",
            "events": pending.events,
            "oldest_event_at": pending.oldest.isoformat() if pending.oldest else None,
            "oldest_wait_seconds": _age(pending.oldest) if wait is not None else None,
            "waiting_since": wait.since.isoformat() if wait else None,
            "label_studio_url": wait.url if wait else None,
            "reason": wait.reason if wait else None,
            "last_error": wait.last_error if wait else None,
            "last_error_at": wait.last_error_at.isoformat() if wait else None,
            "attempts": wait.attempts if wait else 0,
            "fix": wait.fix if wait else None,
        }


def _age(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    now = utcnow()
    if moment.tzinfo is None:
        now = now.replace(tzinfo=None)
    return round((now - moment).total_seconds(), 1)
