"""Label Studio REST calls the backend makes (reading annotations, checking one annotation).

Errors are turned into :class:`LabelStudioError` with a message a user can act on; an
unreachable server raises :class:`labelsieve.events.RetryLater` so queued work waits for it.
"""

from __future__ import annotations

from typing import Any

import httpx

from labelsieve.events import RetryLater
from labelsieve.labelstudio.auth import LabelStudioAuthError, TokenAuth


class LabelStudioError(RuntimeError):
    """Label Studio answered, but not with what we asked for (wrong key, unknown project...)."""


class LabelStudioClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = TokenAuth(self.base_url, api_key)
        self.timeout = timeout

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            headers = self.auth.headers()
        except LabelStudioAuthError as exc:
            if "cannot reach" in str(exc):
                raise RetryLater(str(exc)) from exc
            raise LabelStudioError(str(exc)) from exc
        try:
            response = httpx.request(method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as exc:
            raise RetryLater(f"Label Studio at {self.base_url} is unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 401:
            raise LabelStudioError(f"Label Studio rejected the API key for {method} {path} (HTTP 401): "
                                   "check LABEL_STUDIO_API_KEY")
        if response.status_code >= 500:
            raise RetryLater(f"Label Studio answered HTTP {response.status_code} for {method} {path}")
        return response

    def export_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of the project with its annotations (Label Studio's JSON export)."""
        response = self._request(
            "GET", f"/api/projects/{project_id}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"},
        )
        if response.status_code != 200:
            raise LabelStudioError(f"export of project {project_id} failed: HTTP {response.status_code} "
                                   f"{response.text[:200]}")
        return list(response.json())

    def get_annotation(self, annotation_id: int) -> dict[str, Any] | None:
        response = self._request("GET", f"/api/annotations/{annotation_id}/")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise LabelStudioError(f"reading annotation {annotation_id} failed: HTTP {response.status_code}")
        return dict(response.json())
