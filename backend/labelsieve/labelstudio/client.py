"""Label Studio REST calls the backend makes (reading annotations, checking one annotation).

Errors are turned into :class:`LabelStudioError` with a message a user can act on; an
unreachable server raises :class:`labelsieve.labelstudio.errors.RetryLater` so queued work waits for it.
"""

from __future__ import annotations

from typing import Any

import httpx

from labelsieve.labelstudio.auth import LabelStudioAuthError, TokenAuth
from labelsieve.labelstudio.errors import KEY_REFUSED, SERVER_ERROR, RetryLater

#: seconds allowed for an export, a bulk prediction import or a version delete (over a minute each for 10k tasks
#: on a busy machine: Label Studio serializes, validates and deletes row by row)
BULK_TIMEOUT = 900.0


class LabelStudioError(RuntimeError):
    """Label Studio answered, but not with what we asked for (wrong key, unknown project...)."""


class KeyRefusedError(LabelStudioError, RetryLater):
    """Label Studio refused the API key (HTTP 401): queued work waits until the key is fixed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        RetryLater.__init__(self, message, url=url, reason=KEY_REFUSED)


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
                raise RetryLater(str(exc), url=self.base_url) from exc
            raise KeyRefusedError(str(exc), url=self.base_url) from exc
        try:
            response = httpx.request(method, self.base_url + path, headers=headers,
                                     timeout=kwargs.pop("timeout", self.timeout), **kwargs)
        except (httpx.ConnectError, httpx.TimeoutException, httpx.RemoteProtocolError) as exc:
            raise RetryLater(f"Label Studio at {self.base_url} is unreachable: {type(exc).__name__}: {exc}",
                             url=self.base_url) from exc
        if response.status_code == 401:
            raise KeyRefusedError(f"Label Studio at {self.base_url} rejected the API key for {method} {path} "
                                  "(HTTP 401): check LABEL_STUDIO_API_KEY", url=self.base_url)
        if response.status_code >= 500:
            raise RetryLater(f"Label Studio at {self.base_url} answered HTTP {response.status_code} for {method} "
                             f"{path}", url=self.base_url, reason=SERVER_ERROR)
        return response

    @property
    def bulk_timeout(self) -> float:
        """Seconds for an export, a bulk prediction import or a version delete (never below ``timeout``)."""
        return max(self.timeout, BULK_TIMEOUT)

    def export_tasks(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of the project with its annotations (Label Studio's JSON export)."""
        response = self._request(
            "GET", f"/api/projects/{project_id}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"}, timeout=self.bulk_timeout,
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

    # ------------------------------------------------------------- publishing
    # Plain httpx rather than label-studio-sdk: the SDK's import_predictions/model-versions calls take
    # typed objects and parse every response into pydantic models, which costs seconds per 10k rows;
    # auth (legacy token / PAT refresh) is handled by TokenAuth exactly as the SDK does it.
    def _checked(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 300:
            raise LabelStudioError(f"{what} failed: HTTP {response.status_code} {response.text[:200]}")
        return response

    def get_project(self, project_id: int) -> dict[str, Any]:
        response = self._request("GET", f"/api/projects/{project_id}/")
        return dict(self._checked(response, f"reading project {project_id}").json())

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        response = self._request("PATCH", f"/api/projects/{project_id}/", json=fields)
        return dict(self._checked(response, f"updating project {project_id}").json())

    def import_predictions(self, project_id: int, predictions: list[dict[str, Any]]) -> int:
        """``POST /api/projects/{id}/import/predictions``: one bulk insert per call."""
        response = self._request("POST", f"/api/projects/{project_id}/import/predictions", json=predictions,
                                 timeout=self.bulk_timeout)
        return int(self._checked(response, f"importing predictions into project {project_id}").json()
                   .get("created", len(predictions)))

    def model_versions(self, project_id: int) -> dict[str, int]:
        """``GET /api/projects/{id}/model-versions/``: prediction count per model version."""
        response = self._request("GET", f"/api/projects/{project_id}/model-versions/")
        body = self._checked(response, f"listing model versions of project {project_id}").json()
        return {str(k): int(v) for k, v in body.items()} if isinstance(body, dict) else {}

    def delete_model_version(self, project_id: int, model_version: str) -> None:
        # Label Studio deletes prediction by prediction (a pre_delete signal recounts the task's predictions):
        # minutes for a 10k-task version on a busy machine
        response = self._request("DELETE", f"/api/projects/{project_id}/model-versions/",
                                 json={"model_version": model_version}, timeout=self.bulk_timeout)
        self._checked(response, f"deleting predictions {model_version!r} of project {project_id}")

    def check(self) -> str:
        """The server's version; a clear error when it is unreachable or refuses the key."""
        response = self._request("GET", "/api/version/")
        return str(self._checked(response, "reading the Label Studio version").json().get("release", "?"))
