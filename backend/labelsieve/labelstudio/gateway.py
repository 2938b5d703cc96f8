"""Everything the service asks of Label Studio, per project, behind one object built once.

The URL/key precedence lives here only: the service settings (``LABEL_STUDIO_URL`` /
``LABEL_STUDIO_API_KEY``) first, then what the project's ``/setup`` sent (``hostname`` /
``access_token``). Without both a URL and a key there is no client: nothing is pulled, verified or
pushed, and media is read from the document root (or fetched without a key) only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from labelsieve.labelstudio.auth import TokenAuth
from labelsieve.labelstudio.client import LabelStudioClient, LabelStudioError, client_for
from labelsieve.labelstudio.media import MediaFetcher
from labelsieve.labelstudio.tasksync import TaskSync
from labelsieve.settings import Settings
from labelsieve.storage import crud
from labelsieve.storage.db import session_scope
from labelsieve.storage.models import Project


class LabelStudioGateway:
    """Clients per project (one per URL and key, reused), media fetchers, pool refresh, webhook verification."""

    def __init__(self, *, engine: Engine, settings: Settings, task_sync: TaskSync | None = None) -> None:
        self.engine = engine
        self.settings = settings
        #: how the pool is refreshed before a retrain (None: the full export whenever the task counts differ)
        self.task_sync = task_sync

    def connection(self, project_id: int, project: Project | None = None) -> tuple[str | None, str | None]:
        """(URL, key) for the project: each from the settings, else from the project's ``/setup``."""
        url, key = self.settings.label_studio_url or None, self.settings.label_studio_api_key or None
        if not (url and key):
            if project is None:
                with session_scope(self.engine) as session:
                    project = crud.get_project(session=session, project_id=project_id)
            if project is not None:
                url, key = url or project.ls_hostname or None, key or project.ls_access_token or None
        return url, key

    def client(self, project_id: int, project: Project | None = None) -> LabelStudioClient | None:
        url, key = self.connection(project_id, project)
        if not (url and key):
            return None
        return client_for(url, key)  # one client (one connection pool) per Label Studio URL and key

    def api_key(self, project_id: int) -> str | None:
        """The key labelsieve uses for the project's Label Studio (None without a client)."""
        return self.connection(project_id)[1] if self.client(project_id) is not None else None

    def fetcher(self, project: Project) -> MediaFetcher:
        """Reads task media the way Label Studio serves it (document root, then the URL with the key)."""
        settings = self.settings
        url, key = self.connection(project.id, project)
        auth = TokenAuth(url, key, timeout=settings.media_timeout_seconds) if url and key else None
        return MediaFetcher(
            base_url=url, auth=auth, document_root=settings.local_files_document_root,
            cache_dir=settings.media_cache_dir, timeout=settings.media_timeout_seconds,
            max_bytes=settings.max_media_bytes, max_pixels=settings.max_image_pixels,
        )

    def export_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of the project with its annotations; nothing without a client."""
        client = self.client(project_id)
        return [] if client is None else client.export_tasks(project_id)

    def puller(self, project_id: int) -> Any:
        """``export_tasks`` of the project's client for START_TRAINING, or None without one."""
        client = self.client(project_id)
        return client.export_tasks if client is not None else None

    def new_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """The tasks Label Studio has and labelsieve lacks (see :mod:`labelsieve.labelstudio.tasksync`):
        the full export on first contact or when the counts cannot be reconciled, else the new ids only."""
        client = self.client(project_id)
        if client is None:
            return []
        if self.task_sync is not None:
            return self.task_sync(client, project_id)
        with session_scope(self.engine) as session:
            known = crud.count_tasks(session=session, project_id=project_id)
        try:
            unchanged = client.task_number(project_id) == known
        except LabelStudioError:  # cannot tell: export
            unchanged = False
        return [] if unchanged else client.export_tasks(project_id)

    def verify_annotation(self, project_id: int, annotation: dict[str, Any]) -> dict[str, Any] | None:
        """Label Studio's copy of a webhook's annotation (None if it has none): a forged webhook plants nothing.
        Without a Label Studio key the webhook is trusted as sent (see README, Security and reliability)."""
        return self.verifier(project_id)(project_id, annotation)

    def verifier(self, project_id: int) -> Callable[[int, dict[str, Any]], dict[str, Any] | None]:
        """:meth:`verify_annotation` with the project's client looked up once (one read of the project for a whole
        apply step, not one per annotation)."""
        client = self.client(project_id)
        if client is None:
            return lambda _project_id, annotation: annotation
        return lambda _project_id, annotation: client.get_annotation(int(annotation["id"]))
